package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/contactd/contactd/merge"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// mergeJSON is a merge as the API shows it.
type mergeJSON struct {
	ID           uuid.UUID   `json:"id"`
	SurvivorID   uuid.UUID   `json:"survivorId"`
	MergedIDs    []uuid.UUID `json:"mergedIds"`
	Actor        string      `json:"actor"`
	ModelVersion *int        `json:"modelVersion"`
	Score        *float64    `json:"score"`
	CreatedAt    time.Time   `json:"createdAt"`
	UndoneAt     *time.Time  `json:"undoneAt"`
	UndoneBy     *string     `json:"undoneBy"`
	UndoReport   []string    `json:"undoReport"`
}

func toMergeJSON(m *merge.Merge) mergeJSON {
	report := m.UndoReport
	if report == nil {
		report = []string{}
	}
	return mergeJSON{
		ID: m.ID, SurvivorID: m.SurvivorID, MergedIDs: m.MergedIDs, Actor: m.Actor, ModelVersion: m.ModelVersion,
		Score: m.Score, CreatedAt: m.CreatedAt, UndoneAt: m.UndoneAt, UndoneBy: m.UndoneBy, UndoReport: report,
	}
}

// uuidField reads a string field that must be a UUID; ok is false when it is absent or wrong.
func (o *object) uuidField(key string) (uuid.UUID, bool) {
	v := o.str(key)
	if !v.Set || v.Null {
		return uuid.Nil, false
	}
	id, err := uuid.Parse(v.Value)
	if err != nil {
		o.bad(key, "must be a contact id (UUID)")
		return uuid.Nil, false
	}
	return id, true
}

// readMergeRequest reads {contactIds: [...], survivorId?, fieldValues?: {field: contactId}}.
func readMergeRequest(o *object) merge.Request {
	var req merge.Request
	if v, name, ok := o.raw("contactIds"); !ok || isNull(v) {
		o.bad(name, "is required: the ids of the contacts to merge")
	} else {
		var items []json.RawMessage
		if err := json.Unmarshal(v, &items); err != nil {
			o.bad(name, "must be an array of contact ids")
		}
		for i, item := range items {
			var s string
			id, err := uuid.Nil, json.Unmarshal(item, &s)
			if err == nil {
				id, err = uuid.Parse(s)
			}
			if err != nil {
				o.bad(fmt.Sprintf("contactIds[%d]", i), "must be a contact id (UUID)")
			}
			req.ContactIDs = append(req.ContactIDs, id)
		}
	}
	if id, ok := o.uuidField("survivorId"); ok {
		req.SurvivorID = &id
	}
	req.FieldValues = readFieldValues(o)
	return req
}

// readFieldValues reads the optional {fieldValues: {field: contactId}} of a merge.
func readFieldValues(o *object) map[string]uuid.UUID {
	fv, _ := o.child("fieldValues")
	if fv == nil {
		return nil
	}
	out := map[string]uuid.UUID{}
	keys := make([]string, 0, len(fv.m))
	for k := range fv.m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if id, ok := fv.uuidField(k); ok {
			out[k] = id
		}
	}
	return out
}

func (s *server) mergeContacts(c *gin.Context) {
	o := readBody(c)
	if o == nil {
		return
	}
	req := readMergeRequest(o)
	o.rejectUnknown()
	if !o.finish(c) {
		return
	}
	dryRun, ok := boolQuery(c, "dryRun")
	if !ok {
		return
	}
	if dryRun {
		p, err := s.app.Merges.PreviewMerge(c.Request.Context(), req)
		if err != nil {
			writeError(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"dryRun": true, "merge": toMergeJSON(p.Merge), "contact": toContactJSON(p.Survivor), "moves": p.Moves})
		return
	}
	m, survivor, err := s.app.Merges.MergeContacts(c.Request.Context(), req)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"merge": toMergeJSON(m), "contact": toContactJSON(survivor)})
}

func (s *server) undoMerge(c *gin.Context) {
	id, ok := pathID(c, "id", "merge")
	if !ok {
		return
	}
	m, report, err := s.app.Merges.UndoMerge(c.Request.Context(), id)
	if err != nil {
		writeError(c, err)
		return
	}
	if report == nil {
		report = []string{}
	}
	c.JSON(http.StatusOK, gin.H{"merge": toMergeJSON(m), "notRestored": report})
}

func (s *server) getMerge(c *gin.Context) {
	id, ok := pathID(c, "id", "merge")
	if !ok {
		return
	}
	m, err := s.app.Merges.GetMerge(c.Request.Context(), id)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, toMergeJSON(m))
}

// listMerges lists merges, newest first, a page at a time.
func (s *server) listMerges(c *gin.Context) {
	limit, before, errs := pageParams(c)
	if len(errs) > 0 {
		writeProblem(c, http.StatusUnprocessableEntity, "the query has invalid parameters", errs...)
		return
	}
	merges, next, err := s.app.Merges.ListMerges(c.Request.Context(), before, limit)
	if err != nil {
		writeError(c, err)
		return
	}
	data := make([]mergeJSON, 0, len(merges))
	for _, m := range merges {
		data = append(data, toMergeJSON(m))
	}
	c.JSON(http.StatusOK, gin.H{"data": data, "nextCursor": encodeCursor(next)})
}
