package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// batchMaxBodyBytes caps a batch write's body: 500 contacts of a few KiB each.
const batchMaxBodyBytes = 8 << 20

// batchResultJSON is the outcome of one item of a batch write.
type batchResultJSON struct {
	Index  int                 `json:"index"`
	Status contact.BatchStatus `json:"status"`
	ID     *uuid.UUID          `json:"id"`
	Error  *itemProblem        `json:"error,omitempty"`
}

// itemProblem is why one item of a batch failed: a problem document without a request id.
type itemProblem struct {
	Type              string         `json:"type"`
	Title             string         `json:"title"`
	Status            int            `json:"status"`
	Detail            string         `json:"detail,omitempty"`
	Errors            []problemField `json:"errors,omitempty"`
	ExistingContactID string         `json:"existingContactId,omitempty"`
}

func toItemProblem(err error) *itemProblem {
	var de *db.Error
	if !errors.As(err, &de) {
		// WriteBatch fails the whole batch on anything but a domain error.
		return &itemProblem{Type: problemTypes[http.StatusInternalServerError][0], Title: problemTypes[http.StatusInternalServerError][1], Status: http.StatusInternalServerError}
	}
	status := kindStatus[de.Kind]
	t := problemTypes[status]
	if kt, ok := kindTypes[de.Kind]; ok {
		t = kt
	}
	p := &itemProblem{Type: t[0], Title: t[1], Status: status, Detail: de.Message, ExistingContactID: de.ExistingID}
	for _, f := range de.Fields {
		p.Errors = append(p.Errors, problemField(f))
	}
	return p
}

// batchContacts creates or upserts up to 500 contacts: 200 with one result per item, in order.
// An item that cannot be decoded or is invalid fails alone; the request as a whole fails only
// when it is not a batch (400/422 naming mode, matchOn, source or contacts) or the database
// fails.
func (s *server) batchContacts(c *gin.Context) {
	o := readBody(c)
	if o == nil {
		return
	}
	b := contact.Batch{
		Mode:    contact.BatchMode(o.str("mode").Value),
		MatchOn: contact.BatchMatch(o.str("matchOn").Value),
		Source:  o.str("source").Value,
	}
	items, ok := o.items("contacts")
	o.rejectUnknown()
	if !o.finishWith(c, func() error {
		if !ok {
			return nil
		}
		b.Items = make([]contact.BatchItem, len(items)) // only counted by Validate
		return b.Validate()
	}) {
		return
	}
	if !ok {
		writeProblem(c, http.StatusUnprocessableEntity, "the body has invalid fields", problemField{"contacts", "is required: an array of contacts"})
		return
	}
	allow, ok := boolQuery(c, "allowDuplicate")
	if !ok {
		return
	}
	b.AllowDuplicate = allow
	results := make([]batchResultJSON, len(items))
	b.Items = b.Items[:0]
	for i, item := range items {
		it, errs := s.readBatchItem(item, i)
		if len(errs) > 0 {
			results[i] = batchResultJSON{Index: i, Status: contact.BatchError, Error: toItemProblem(&db.Error{
				Kind: db.KindInvalid, Message: "the item has invalid fields", Fields: errs})}
			continue
		}
		b.Items = append(b.Items, it)
	}
	written, err := s.app.Contacts.WriteBatch(c.Request.Context(), b)
	if err != nil {
		writeError(c, err)
		return
	}
	for _, r := range written {
		out := batchResultJSON{Index: r.Index, Status: r.Status}
		if r.ID != uuid.Nil {
			id := r.ID
			out.ID = &id
		}
		if r.Err != nil {
			out.Error = toItemProblem(r.Err)
		}
		results[r.Index] = out
	}
	counts := map[contact.BatchStatus]int{contact.BatchCreated: 0, contact.BatchUpdated: 0, contact.BatchUnchanged: 0, contact.BatchError: 0}
	for _, r := range results {
		counts[r.Status]++
	}
	c.JSON(http.StatusOK, gin.H{"results": results, "counts": counts})
}

// readBatchItem decodes one item of a batch; errs lists its mistyped and unknown fields, named
// contacts[i].field.
func (s *server) readBatchItem(o *object, i int) (contact.BatchItem, []db.FieldError) {
	it := contact.BatchItem{Index: i, Fields: contact.Update{Preferences: readPreferences(o)}}
	for _, f := range contact.Fields {
		*f.Update(&it.Fields) = o.str(f.Name)
	}
	if ext := o.str("externalId"); ext.Set && !ext.Null {
		it.ExternalID = ext.Value
	}
	for _, r := range o.children("relationships") {
		it.Relationships = append(it.Relationships, readRelationship(r))
	}
	it.Consented = s.readCreateConsent(o)
	it.Fields.Custom = readCustom(o)
	it.Fields.Type = o.str("type")
	o.rejectUnknown()
	var errs []db.FieldError
	for _, f := range append(*o.invalid, *o.unknown...) {
		errs = append(errs, db.FieldError(f))
	}
	return it, errs
}

// items reads an array of objects whose errors are kept apart: each item's mistyped and unknown
// fields are its own, named under key[i]. ok is false when the field is absent or null.
func (o *object) items(key string) ([]*object, bool) {
	v, name, present := o.raw(key)
	if !present || isNull(v) {
		return nil, false
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(v, &raw); err != nil {
		o.bad(name, "must be an array of objects")
		return nil, true
	}
	out := make([]*object, len(raw))
	for i, item := range raw {
		path := fmt.Sprintf("%s[%d]", o.field(name), i)
		sub := &object{path: path + ".", m: map[string]json.RawMessage{}, used: map[string]bool{}, invalid: &[]problemField{}, unknown: &[]problemField{}}
		if err := json.Unmarshal(item, &sub.m); err != nil || sub.m == nil {
			sub.m = map[string]json.RawMessage{}
			*sub.invalid = append(*sub.invalid, problemField{Field: path, Message: "must be an object"})
		}
		out[i] = sub
	}
	return out, true
}
