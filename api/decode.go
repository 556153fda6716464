package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"
	"github.com/gin-gonic/gin"
)

// object reads one JSON object of a request body field by field, so that it can tell an absent
// field from a null one, name every unknown field (400) and every mistyped one (422).
type object struct {
	path    string
	m       map[string]json.RawMessage
	used    map[string]bool
	invalid *[]problemField
	unknown *[]problemField
}

// readBody reads the request body as a JSON object. When it cannot (oversized, not JSON, not an
// object) it answers the request itself and returns nil.
func readBody(c *gin.Context) *object { return readObject(c, false) }

// readBulkBody is readBody for a route whose body is a large ask of plain strings (bulk
// reachability's 10,000 ids): splitObject splits it when it can, else encoding/json does. Only
// that route takes the hand-written path; every other body is read by encoding/json.
func readBulkBody(c *gin.Context) *object { return readObject(c, true) }

func readObject(c *gin.Context, bulk bool) *object {
	// The Content-Type is not checked: curl's default form type with a JSON body is common, and
	// the body itself must parse as a JSON object whatever it is labelled.
	data, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeProblem(c, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body must be at most %d bytes", tooBig.Limit))
			return nil
		}
		writeProblem(c, http.StatusBadRequest, "the body could not be read")
		return nil
	}
	if len(bytes.TrimSpace(data)) == 0 {
		writeProblem(c, http.StatusBadRequest, "the body is empty; it must be a JSON object")
		return nil
	}
	if bulk {
		if m, ok := splitObject(data); ok {
			return &object{m: m, used: map[string]bool{}, invalid: &[]problemField{}, unknown: &[]problemField{}}
		}
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil || m == nil {
		detail := "the body must be a JSON object"
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			detail = fmt.Sprintf("the body is not valid JSON: %v (at byte %d)", syn, syn.Offset)
		}
		writeProblem(c, http.StatusBadRequest, detail)
		return nil
	}
	return &object{m: m, used: map[string]bool{}, invalid: &[]problemField{}, unknown: &[]problemField{}}
}

// splitObject splits a JSON object into its members as json.Unmarshal into a
// map[string]json.RawMessage does, when every key is a plain string (no escapes) and every value
// a plain string, an array of plain strings, true, false or null: the shape of a bulk ask, whose
// 10,000 ids it splits in a fraction of encoding/json's time (which scans the body twice, to
// validate it and to copy each value). Anything else is not ok, for encoding/json. The values
// share data's bytes.
func splitObject(data []byte) (map[string]json.RawMessage, bool) {
	i := skipSpace(data, 0)
	if i == len(data) || data[i] != '{' {
		return nil, false
	}
	m := map[string]json.RawMessage{}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return m, skipSpace(data, i+1) == len(data)
	}
	for {
		end, ok := plainString(data, i)
		if !ok {
			return nil, false
		}
		key := data[i+1 : end-1]
		if !utf8.Valid(key) {
			return nil, false // encoding/json would replace the bad bytes
		}
		i = skipSpace(data, end)
		if i == len(data) || data[i] != ':' {
			return nil, false
		}
		i = skipSpace(data, i+1)
		if end, ok = plainValue(data, i); !ok {
			return nil, false
		}
		m[string(key)] = data[i:end:end]
		i = skipSpace(data, end)
		if i == len(data) {
			return nil, false
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return m, skipSpace(data, i+1) == len(data)
		default:
			return nil, false
		}
	}
}

// plainValue returns the end of the value at data[i] when it is a plain string, an array of
// plain strings, true, false or null.
func plainValue(data []byte, i int) (int, bool) {
	if i == len(data) {
		return 0, false
	}
	switch data[i] {
	case '"':
		return plainString(data, i)
	case '[':
		j := skipSpace(data, i+1)
		if j < len(data) && data[j] == ']' {
			return j + 1, true
		}
		for {
			end, ok := plainString(data, j)
			if !ok {
				return 0, false
			}
			j = skipSpace(data, end)
			if j == len(data) {
				return 0, false
			}
			switch data[j] {
			case ',':
				j = skipSpace(data, j+1)
			case ']':
				return j + 1, true
			default:
				return 0, false
			}
		}
	}
	for _, lit := range []string{"true", "false", "null"} {
		if bytes.HasPrefix(data[i:], []byte(lit)) {
			return i + len(lit), true
		}
	}
	return 0, false
}

// plainString returns the end (past the closing quote) of the string at data[i] when it has no
// escape and no control character; encoding/json takes any other byte as it is.
func plainString(data []byte, i int) (int, bool) {
	if i == len(data) || data[i] != '"' {
		return 0, false
	}
	for j := i + 1; j < len(data); j++ {
		switch c := data[j]; {
		case c == '"':
			return j + 1, true
		case c == '\\' || c < 0x20:
			return 0, false
		}
	}
	return 0, false
}

// skipSpace returns the index of the first byte at or after i that is not JSON white space.
func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

func (o *object) field(key string) string { return o.path + key }

func (o *object) bad(key, format string, args ...any) {
	*o.invalid = append(*o.invalid, problemField{Field: o.field(key), Message: fmt.Sprintf(format, args...)})
}

// raw returns a present field's value; ok is false when absent.
func (o *object) raw(key string, aliases ...string) (json.RawMessage, string, bool) {
	for _, k := range append([]string{key}, aliases...) {
		if v, ok := o.m[k]; ok {
			o.used[k] = true
			return v, k, true
		}
	}
	return nil, key, false
}

func isNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }

// str reads a string field (aliases are accepted synonyms).
func (o *object) str(key string, aliases ...string) contact.Opt[string] {
	v, name, ok := o.raw(key, aliases...)
	if !ok {
		return contact.Opt[string]{}
	}
	if isNull(v) {
		return contact.Opt[string]{Set: true, Null: true}
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		o.bad(name, "must be a string")
		return contact.Opt[string]{}
	}
	return contact.Some(s)
}

func (o *object) boolean(key string) contact.Opt[bool] {
	v, name, ok := o.raw(key)
	if !ok {
		return contact.Opt[bool]{}
	}
	if isNull(v) {
		return contact.Opt[bool]{Set: true, Null: true}
	}
	var b bool
	if err := json.Unmarshal(v, &b); err != nil {
		o.bad(name, "must be true or false")
		return contact.Opt[bool]{}
	}
	return contact.Some(b)
}

func (o *object) strings(key string) contact.Opt[[]string] {
	v, name, ok := o.raw(key)
	if !ok {
		return contact.Opt[[]string]{}
	}
	if isNull(v) {
		return contact.Opt[[]string]{Set: true, Null: true}
	}
	var ss []string
	if err := json.Unmarshal(v, &ss); err != nil {
		o.bad(name, "must be an array of strings")
		return contact.Opt[[]string]{}
	}
	return contact.Some(ss)
}

// child reads a nested object; it returns nil when the field is absent or null (null reports
// through isNullField) or mistyped.
func (o *object) child(key string) (*object, bool) {
	v, name, ok := o.raw(key)
	if !ok {
		return nil, false
	}
	if isNull(v) {
		return nil, true
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil || m == nil {
		o.bad(name, "must be an object")
		return nil, false
	}
	return &object{path: o.field(name) + ".", m: m, used: map[string]bool{}, invalid: o.invalid, unknown: o.unknown}, false
}

// children reads an array of objects.
func (o *object) children(key string) []*object {
	v, name, ok := o.raw(key)
	if !ok || isNull(v) {
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(v, &items); err != nil {
		o.bad(name, "must be an array of objects")
		return nil
	}
	out := make([]*object, 0, len(items))
	for i, item := range items {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(item, &m); err != nil || m == nil {
			*o.invalid = append(*o.invalid, problemField{Field: fmt.Sprintf("%s[%d]", o.field(name), i), Message: "must be an object"})
			m = map[string]json.RawMessage{}
		}
		out = append(out, &object{path: fmt.Sprintf("%s[%d].", o.field(name), i), m: m, used: map[string]bool{}, invalid: o.invalid, unknown: o.unknown})
	}
	return out
}

// rejectUnknown records every field this object has that was never read.
func (o *object) rejectUnknown() {
	keys := make([]string, 0, len(o.m))
	for k := range o.m {
		if !o.used[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		*o.unknown = append(*o.unknown, problemField{Field: o.field(k), Message: "unknown field"})
	}
}

// finishWith answers 400 for unknown fields, or 422 listing the mistyped fields together with
// the fields domain validation (validate) finds wrong, and reports whether the request may go
// on. A field that is mistyped is not reported again by the domain.
func (o *object) finishWith(c *gin.Context, validate func() error) bool {
	if len(*o.unknown) > 0 {
		writeProblem(c, http.StatusBadRequest, "the body has unknown fields", *o.unknown...)
		return false
	}
	fields := *o.invalid
	mistyped := map[string]bool{}
	for _, f := range fields {
		mistyped[f.Field] = true
	}
	var de *db.Error
	if err := validate(); errors.As(err, &de) {
		for _, f := range de.Fields {
			if !coveredBy(f.Field, mistyped) {
				fields = append(fields, problemField(f))
			}
		}
	}
	if len(fields) > 0 {
		writeProblem(c, http.StatusUnprocessableEntity, "the body has invalid fields", fields...)
		return false
	}
	return true
}

// finish answers 400 for unknown fields or 422 for invalid ones and reports whether the request
// may go on.
func (o *object) finish(c *gin.Context) bool {
	if len(*o.unknown) > 0 {
		writeProblem(c, http.StatusBadRequest, "the body has unknown fields", *o.unknown...)
		return false
	}
	if len(*o.invalid) > 0 {
		writeProblem(c, http.StatusUnprocessableEntity, "the body has invalid fields", *o.invalid...)
		return false
	}
	return true
}

// coveredBy reports whether field or an object or array holding it is in mistyped.
func coveredBy(field string, mistyped map[string]bool) bool {
	for f := field; f != ""; {
		if mistyped[f] {
			return true
		}
		i := strings.LastIndexAny(f, ".[")
		if i < 0 {
			return false
		}
		f = f[:i]
	}
	return false
}
