package api

import (
	"context"
	"encoding/base64"
	"net/http"
	"strconv"

	"github.com/contactd/contactd/internal/db"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// defaultLimit is the page size when a list request names none.
const defaultLimit = 50

// encodeCursor makes an opaque cursor from the last id of a page; nil stays nil (last page).
func encodeCursor(id *uuid.UUID) *string {
	if id == nil {
		return nil
	}
	s := base64.RawURLEncoding.EncodeToString(id[:])
	return &s
}

func decodeCursor(s string) (*uuid.UUID, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 16 {
		return nil, false
	}
	var id uuid.UUID
	copy(id[:], b)
	return &id, true
}

func limitParam(c *gin.Context) (int, []problemField) {
	s := c.Query("limit")
	if s == "" {
		return defaultLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > db.MaxListLimit {
		return 0, []problemField{{"limit", "must be a whole number from 1 to " + strconv.Itoa(db.MaxListLimit)}}
	}
	return n, nil
}

// pageParams reads limit and cursor.
func pageParams(c *gin.Context) (int, *uuid.UUID, []problemField) {
	limit, errs := limitParam(c)
	var after *uuid.UUID
	if s := c.Query("cursor"); s != "" {
		id, ok := decodeCursor(s)
		if !ok {
			errs = append(errs, problemField{"cursor", "is not a cursor this endpoint gave"})
		}
		after = id
	}
	return limit, after, errs
}

// pathID reads a UUID path parameter; a malformed one names no entity, so it is a 404.
func pathID(c *gin.Context, param, what string) (uuid.UUID, bool) {
	id, err := uuid.Parse(c.Param(param))
	if err != nil {
		writeProblem(c, http.StatusNotFound, what+" "+strconv.Quote(c.Param(param))+" not found")
		return uuid.Nil, false
	}
	return id, true
}

// listChildren answers a keyset page of a parent's items (a source's runs, a webhook's
// deliveries): the parent's id from path parameter param (named what in errors), the page from
// limit and cursor, each item through toJSON.
func listChildren[T, J any](c *gin.Context, param, what string,
	list func(ctx context.Context, parent uuid.UUID, limit int, cursor *uuid.UUID) ([]T, *uuid.UUID, error),
	toJSON func(T) J) {
	id, ok := pathID(c, param, what)
	if !ok {
		return
	}
	limit, cursor, errs := pageParams(c)
	if len(errs) > 0 {
		writeProblem(c, http.StatusUnprocessableEntity, "the query has invalid parameters", errs...)
		return
	}
	items, next, err := list(c.Request.Context(), id, limit, cursor)
	if err != nil {
		writeError(c, err)
		return
	}
	data := make([]J, 0, len(items))
	for _, it := range items {
		data = append(data, toJSON(it))
	}
	c.JSON(http.StatusOK, gin.H{"data": data, "nextCursor": encodeCursor(next)})
}
