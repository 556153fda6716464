package api

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/contactd/contactd/communication"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

type communicationJSON struct {
	ID         uuid.UUID  `json:"id"`
	ContactID  uuid.UUID  `json:"contactId"`
	Channel    string     `json:"channel"`
	Direction  string     `json:"direction"`
	Subject    string     `json:"subject"`
	Body       *string    `json:"body"`
	OccurredAt time.Time  `json:"occurredAt"`
	UserID     *uuid.UUID `json:"userId"`
	Actor      string     `json:"actor"`
	CreatedAt  time.Time  `json:"createdAt"`
}

func toCommunicationJSON(c *communication.Communication) *communicationJSON {
	return &communicationJSON{c.ID, c.ContactID, c.Channel, c.Direction, c.Subject, c.Body, c.OccurredAt, c.UserID, c.Actor, c.CreatedAt}
}

type timelineItemJSON struct {
	Type          string             `json:"type"`
	At            time.Time          `json:"at"`
	Communication *communicationJSON `json:"communication,omitempty"`
	Change        *auditJSON         `json:"change,omitempty"`
}

// timeCursor encodes a newest-first keyset cursor; decodeTimeCursor reads it back.
func timeCursor(c *communication.Cursor) *string {
	if c == nil {
		return nil
	}
	s := base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.At.UnixNano(), 10) + "|" + c.ID))
	return &s
}

func decodeTimeCursor(s string) (*communication.Cursor, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, false
	}
	at, id, ok := strings.Cut(string(raw), "|")
	n, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil || id == "" {
		return nil, false
	}
	return &communication.Cursor{At: time.Unix(0, n), ID: id}, true
}

// timePage reads limit and a newest-first cursor, answering the request itself when they are
// invalid.
func timePage(c *gin.Context) (int, *communication.Cursor, bool) {
	limit, errs := limitParam(c)
	var after *communication.Cursor
	if s := c.Query("cursor"); s != "" {
		var ok bool
		if after, ok = decodeTimeCursor(s); !ok {
			errs = append(errs, problemField{"cursor", "is not a cursor this endpoint gave"})
		}
	}
	if len(errs) > 0 {
		writeProblem(c, http.StatusUnprocessableEntity, "the query has invalid parameters", errs...)
		return 0, nil, false
	}
	return limit, after, true
}

func (s *server) recordCommunication(c *gin.Context) {
	id, ok := pathID(c, "contactId", "contact")
	if !ok {
		return
	}
	o := readBody(c)
	if o == nil {
		return
	}
	in := communication.NewCommunication{Channel: o.str("channel").Value, Direction: o.str("direction").Value,
		Subject: o.str("subject").Value}
	if b := o.str("body"); b.Set && !b.Null {
		in.Body = &b.Value
	}
	if at := o.timestamp("occurredAt"); at != nil {
		in.OccurredAt = *at
	}
	if u := o.str("userId"); u.Set && !u.Null {
		v, err := uuid.Parse(strings.TrimSpace(u.Value))
		if err != nil {
			o.bad("userId", "must be a user id")
		} else {
			in.UserID = &v
		}
	}
	o.rejectUnknown()
	if !o.finishWith(c, func() error { return in.Validate(time.Now()) }) {
		return
	}
	rec, err := s.app.Communications.Record(c.Request.Context(), id, in)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusCreated, toCommunicationJSON(rec))
}

func (s *server) listCommunications(c *gin.Context) {
	id, ok := pathID(c, "contactId", "contact")
	if !ok {
		return
	}
	limit, after, ok := timePage(c)
	if !ok {
		return
	}
	cs, next, err := s.app.Communications.List(c.Request.Context(), id, after, limit)
	if err != nil {
		writeError(c, err)
		return
	}
	data := make([]*communicationJSON, 0, len(cs))
	for i := range cs {
		data = append(data, toCommunicationJSON(&cs[i]))
	}
	c.JSON(http.StatusOK, gin.H{"data": data, "nextCursor": timeCursor(next)})
}

func (s *server) timeline(c *gin.Context) {
	id, ok := pathID(c, "contactId", "contact")
	if !ok {
		return
	}
	limit, after, ok := timePage(c)
	if !ok {
		return
	}
	items, next, err := s.app.Communications.Timeline(c.Request.Context(), id, after, limit)
	if err != nil {
		writeError(c, err)
		return
	}
	data := make([]timelineItemJSON, 0, len(items))
	for _, it := range items {
		j := timelineItemJSON{Type: it.Type, At: it.At}
		if it.Communication != nil {
			j.Communication = toCommunicationJSON(it.Communication)
		}
		if e := it.Audit; e != nil {
			j.Change = &auditJSON{e.ID, e.At, e.Actor, e.Action, e.EntityType, e.EntityID, e.Changes}
		}
		data = append(data, j)
	}
	c.JSON(http.StatusOK, gin.H{"data": data, "nextCursor": timeCursor(next)})
}
