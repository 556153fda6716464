package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/tag"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

type tagCountJSON struct {
	Name  string `json:"name"`
	Count int64  `json:"count"`
}

// readTags reads an optional array of tag names, cleaned; field errors are the object's.
func readTags(o *object, key string) contact.Opt[[]string] {
	opt := o.strings(key)
	if !opt.Set || opt.Null {
		if opt.Null {
			return contact.Some([]string{})
		}
		return opt
	}
	names, errs := tag.Clean(opt.Value, o.field(key))
	for _, e := range errs {
		*o.invalid = append(*o.invalid, problemField(e))
	}
	return contact.Some(names)
}

// uuids reads a required array of ids, naming each malformed one key[i].
func (o *object) uuids(key, what string) []uuid.UUID {
	v, name, ok := o.raw(key)
	if !ok || isNull(v) {
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(v, &items); err != nil {
		o.bad(name, "must be an array of %s ids", what)
		return nil
	}
	out := make([]uuid.UUID, 0, len(items))
	for i, item := range items {
		var s string
		id, err := uuid.Nil, json.Unmarshal(item, &s)
		if err == nil {
			id, err = uuid.Parse(s)
		}
		if err != nil {
			o.bad(fmt.Sprintf("%s[%d]", key, i), "must be a %s id (UUID)", what)
			continue
		}
		out = append(out, id)
	}
	return out
}

// readFilter reads a filter given in a body as an object of the list endpoint's query
// parameters (a string or an array of strings each). Unknown parameters are unknown fields
// (400), invalid values invalid fields (422), named key.param. It returns nil when absent.
func readFilter(o *object, key string) *contact.Filter {
	q := readFilterValues(o, key)
	if q == nil {
		return nil
	}
	name := key
	for _, k := range contact.UnknownParams(q) {
		*o.unknown = append(*o.unknown, problemField{o.field(name + "." + k), "is not a filter of the list"})
	}
	f, errs := contact.ParseFilter(q)
	for _, e := range errs {
		o.bad(name+"."+e.Field, "%s", e.Message)
	}
	return &f
}

// readFilterValues reads a filter object as query parameters; nil when absent or null.
func readFilterValues(o *object, key string) url.Values {
	v, name, ok := o.raw(key)
	if !ok || isNull(v) {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil || m == nil {
		o.bad(name, "must be an object of the list's filters, such as {\"tag\": [\"vip\"], \"company\": \"Acme\"}")
		return nil
	}
	q := url.Values{}
	for k, raw := range m {
		var one string
		var many []string
		switch {
		case json.Unmarshal(raw, &one) == nil:
			q[k] = []string{one}
		case json.Unmarshal(raw, &many) == nil:
			q[k] = many
		default:
			o.bad(name+"."+k, "must be a string or an array of strings")
		}
	}
	return q
}

// addTags is POST /api/contacts/{id}/tags {tags}: the contact's tags after adding them.
func (s *server) addTags(c *gin.Context) {
	id, ok := pathID(c, "contactId", "contact")
	if !ok {
		return
	}
	o := readBody(c)
	if o == nil {
		return
	}
	names := readTags(o, "tags")
	if !names.Set || len(names.Value) == 0 {
		if len(*o.invalid) == 0 {
			o.bad("tags", "must name at least one tag")
		}
	}
	o.rejectUnknown()
	if !o.finish(c) {
		return
	}
	tags, err := s.app.Tags.Add(c.Request.Context(), id, names.Value)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"tags": tags})
}

// removeTag is DELETE /api/contacts/{id}/tags/{tag}.
func (s *server) removeTag(c *gin.Context) {
	id, ok := pathID(c, "contactId", "contact")
	if !ok {
		return
	}
	tags, err := s.app.Tags.Remove(c.Request.Context(), id, c.Param("tag"))
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"tags": tags})
}

// listTags is GET /api/tags: every tag with its count of active contacts.
func (s *server) listTags(c *gin.Context) {
	counts, err := s.app.Tags.List(c.Request.Context())
	if err != nil {
		writeError(c, err)
		return
	}
	data := make([]tagCountJSON, len(counts))
	for i, t := range counts {
		data[i] = tagCountJSON(t)
	}
	c.JSON(http.StatusOK, gin.H{"data": data})
}

// renameTag is PATCH /api/tags/{name} {name}: renames, merging into an existing tag.
func (s *server) renameTag(c *gin.Context) {
	o := readBody(c)
	if o == nil {
		return
	}
	to := o.str("name")
	if !to.Set || to.Null {
		o.bad("name", "is required: the tag's new name")
	}
	o.rejectUnknown()
	if !o.finish(c) {
		return
	}
	got, err := s.app.Tags.Rename(c.Request.Context(), c.Param("name"), to.Value)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, tagCountJSON(got))
}

// deleteTag is DELETE /api/tags/{name}: removes the tag from every contact.
func (s *server) deleteTag(c *gin.Context) {
	if err := s.app.Tags.Delete(c.Request.Context(), c.Param("name")); err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// bulkTags is POST /api/contacts/tags {contactIds | filter, add, remove}.
func (s *server) bulkTags(c *gin.Context) {
	o := readBody(c)
	if o == nil {
		return
	}
	b := tag.Bulk{ContactIDs: o.uuids("contactIds", "contact"), Filter: readFilter(o, "filter")}
	b.Add, b.Remove = o.strings("add").Value, o.strings("remove").Value
	o.rejectUnknown()
	if !o.finish(c) {
		return
	}
	if b.Filter != nil {
		if err := s.app.Groups.Resolve(c.Request.Context(), b.Filter); err != nil {
			writeError(c, prefixFields(err, "filter."))
			return
		}
	}
	res, err := s.app.Tags.Change(c.Request.Context(), b)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"matched": res.Matched, "changed": res.Changed})
}

// prefixFields names a domain error's invalid fields under prefix.
func prefixFields(err error, prefix string) error {
	fields := fieldsOf(err)
	if len(fields) == 0 {
		return err
	}
	var errs db.FieldErrors
	for _, f := range fields {
		errs.Add(prefix+f.Field, "%s", f.Message)
	}
	return errs.Err()
}
