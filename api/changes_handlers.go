package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// changeJSON is one event of the change feed.
type changeJSON struct {
	Seq        int64           `json:"seq"`
	Type       string          `json:"type"`
	ContactID  *uuid.UUID      `json:"contactId"`
	OccurredAt time.Time       `json:"occurredAt"`
	Data       json.RawMessage `json:"data"`
}

// listChanges serves the change feed: the events after cursor (a seq), in order. nextCursor is
// never null: a reader that has caught up polls again with it.
func (s *server) listChanges(c *gin.Context) {
	limit, errs := limitParam(c)
	var cursor int64
	if v := c.Query("cursor"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			errs = append(errs, problemField{"cursor", "must be a seq from a previous page (a whole number, 0 or more)"})
		}
		cursor = n
	}
	if len(errs) > 0 {
		writeProblem(c, http.StatusUnprocessableEntity, "the query has invalid parameters", errs...)
		return
	}
	events, next, err := s.app.Feed.Changes(c.Request.Context(), cursor, limit)
	if err != nil {
		writeError(c, err)
		return
	}
	data := make([]changeJSON, 0, len(events))
	for _, e := range events {
		data = append(data, changeJSON{Seq: e.Seq, Type: e.Type, ContactID: e.ContactID, OccurredAt: e.OccurredAt.UTC(), Data: e.Data})
	}
	c.JSON(http.StatusOK, gin.H{"data": data, "nextCursor": strconv.FormatInt(next, 10)})
}
