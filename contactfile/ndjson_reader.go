package contactfile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ndjsonDecoder reads one JSON object per line with the spec's camelCase
// keys. Blank lines are not records. A line that is not a JSON object, is
// too long, or gives a field a value of the wrong type is a row error.
type ndjsonDecoder struct {
	lr  lineReader
	ids *idHasher
	obj map[string]json.RawMessage
}

func newNDJSONDecoder(br *bufio.Reader, maxLine int) *ndjsonDecoder {
	return &ndjsonDecoder{lr: lineReader{br: br, max: maxLine}, ids: newIDHasher()}
}

func (d *ndjsonDecoder) mapping() Mapping { return Mapping{} }

func (d *ndjsonDecoder) next(row *Row, build bool) error {
	var b []byte
	for {
		line, tooLong, err := d.lr.next()
		if err != nil {
			return err
		}
		row.Line = d.lr.line
		if tooLong {
			return &RowError{Line: row.Line, Message: fmt.Sprintf("line longer than %d bytes", d.lr.max)}
		}
		if !utf8.Valid(line) {
			return &FileError{Line: row.Line, Err: ErrInvalidUTF8}
		}
		if b = bytes.TrimSpace(line); len(b) > 0 {
			break
		}
	}
	if !build {
		return nil
	}
	if b[0] != '{' {
		return &RowError{Line: row.Line, Message: "not a JSON object"}
	}
	clear(d.obj)
	if err := json.Unmarshal(b, &d.obj); err != nil {
		return &RowError{Line: row.Line, Message: "malformed JSON: " + jsonMessage(err)}
	}
	var fullName string
	for _, k := range ndjsonOrder {
		if raw, ok := d.obj[k]; ok {
			if err := d.set(row, k, raw, &fullName); err != nil {
				return err
			}
		}
	}
	for k, raw := range d.obj {
		if _, known := ndjsonKeys[k]; !known {
			row.setExtra(k, extraValue(raw))
		}
	}
	d.ids.finish(row, fullName)
	return nil
}

// set stores one key's value.
func (d *ndjsonDecoder) set(row *Row, k string, raw json.RawMessage, fullName *string) error {
	f := ndjsonKeys[k]
	switch {
	case f == FieldIgnore:
		return nil
	case f == FieldEmail || f == FieldPhone || f == FieldExternalIDs:
		vs, ok := stringList(raw)
		if !ok {
			return &RowError{Line: row.Line, Field: k, Message: "must be a string or an array of strings"}
		}
		for _, v := range vs {
			switch f {
			case FieldEmail:
				row.addEmail(v)
			case FieldPhone:
				row.addPhone(v)
			default:
				row.ExternalIDs = append(row.ExternalIDs, v)
			}
		}
		return nil
	}
	v, ok := scalarString(raw)
	if !ok {
		return &RowError{Line: row.Line, Field: k, Message: "must be a string"}
	}
	switch f {
	case FieldFirstName:
		row.FirstName = v
	case FieldLastName:
		row.LastName = v
	case FieldFullName:
		*fullName = v
	case FieldTitle:
		row.Title = v
	case FieldCompany:
		row.Company = v
	case FieldExternalID:
		row.ExternalID = cmpOr(row.ExternalID, v)
	}
	return nil
}

// ndjsonKeys are the keys with a meaning: the spec's names, contactd's
// export keys, and plural lists of emails and phones.
var ndjsonKeys = map[string]Field{
	"firstName": FieldFirstName, "lastName": FieldLastName, "fullName": FieldFullName,
	"name": FieldFullName, "email": FieldEmail, "emails": FieldEmail,
	"phone": FieldPhone, "phones": FieldPhone, "title": FieldTitle,
	"company": FieldCompany, "externalId": FieldExternalID, "id": FieldExternalID,
	"externalIds":     FieldExternalIDs,
	"normalizedEmail": FieldIgnore, "normalizedPhone": FieldIgnore,
	"phoneExtension": FieldIgnore, "phoneValid": FieldIgnore,
}

// ndjsonOrder is the order keys are applied in, so that the primary email
// and the external id do not depend on map order.
var ndjsonOrder = []string{
	"firstName", "lastName", "fullName", "name", "email", "emails", "phone", "phones",
	"title", "company", "externalId", "id", "externalIds",
}

// scalarString returns a JSON string, number or boolean as text; null is
// empty. Objects and arrays are not scalars.
func scalarString(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", true
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false
		}
		return strings.TrimSpace(s), true
	case '{', '[':
		return "", false
	case 'n':
		return "", true
	}
	return string(raw), true
}

// stringList returns a scalar as a one-element list, or an array of
// scalars.
func stringList(raw json.RawMessage) ([]string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '[' {
		v, ok := scalarString(raw)
		if !ok || v == "" {
			return nil, ok
		}
		return []string{v}, true
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, false
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		v, ok := scalarString(it)
		if !ok {
			return nil, false
		}
		if v != "" {
			out = append(out, v)
		}
	}
	return out, true
}

// extraValue keeps an unknown key's scalar as text and anything else as its
// JSON.
func extraValue(raw json.RawMessage) string {
	if v, ok := scalarString(raw); ok {
		return v
	}
	return string(bytes.TrimSpace(raw))
}

// jsonMessage shortens a decoding error for a person.
func jsonMessage(err error) string {
	return strings.TrimPrefix(err.Error(), "json: ")
}
