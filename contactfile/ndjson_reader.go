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
	lr    lineReader
	ids   *idHasher
	slots [len(ndjsonOrder)]string
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
	if !json.Valid(b) {
		var v any
		return &RowError{Line: row.Line, Message: "malformed JSON: " + jsonMessage(json.Unmarshal(b, &v))}
	}
	if b[0] != '{' {
		return &RowError{Line: row.Line, Message: "not a JSON object"}
	}
	// Known keys go to slots (the last of a repeated key wins, as with
	// encoding/json) and are applied in a fixed order below.
	// One string for the line: unescaped values are slices of it.
	d.slots = [len(ndjsonOrder)]string{}
	scanObject(string(b), func(rawKey, val string) {
		key := unquote(rawKey)
		switch key {
		case "tags":
			readNDJSONTags(row, val)
			return
		case "customFields":
			readNDJSONCustom(row, val)
			return
		}
		if slot, ok := ndjsonSlot[key]; ok {
			if slot >= 0 {
				d.slots[slot] = val
			}
			return
		}
		row.setExtra(key, extraValue(val))
	})
	var fullName string
	for slot, val := range d.slots {
		if val != "" {
			if err := d.set(row, ndjsonOrder[slot], val, &fullName); err != nil {
				return err
			}
		}
	}
	d.ids.finish(row, fullName)
	return nil
}

// set stores one key's value.
func (d *ndjsonDecoder) set(row *Row, k string, raw string, fullName *string) error {
	f := ndjsonKeys[k]
	if f == FieldEmail || f == FieldPhone || f == FieldExternalIDs {
		ok := eachString(raw, func(v string) {
			switch f {
			case FieldEmail:
				row.addEmail(v)
			case FieldPhone:
				row.addPhone(v)
			default:
				row.ExternalIDs = append(row.ExternalIDs, v)
			}
		})
		if !ok {
			return &RowError{Line: row.Line, Field: k, Message: "must be a string or an array of strings"}
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
		*fullName = cmpOr(*fullName, v)
	case FieldTitle:
		row.Title = v
	case FieldCompany:
		row.Company = v
	case FieldStreet, FieldCity, FieldRegion, FieldPostalCode, FieldCountry:
		*row.addressPart(f) = oneLine(v)
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
	"street": FieldStreet, "city": FieldCity, "region": FieldRegion, "postalCode": FieldPostalCode,
	"country":         FieldCountry,
	"externalIds":     FieldExternalIDs,
	"normalizedEmail": FieldIgnore, "normalizedPhone": FieldIgnore,
	"phoneExtension": FieldIgnore, "phoneValid": FieldIgnore,
}

// ndjsonOrder is the order keys are applied in, so that the primary email
// and the external id do not depend on map order.
var ndjsonOrder = [...]string{
	"firstName", "lastName", "fullName", "name", "email", "emails", "phone", "phones",
	"title", "company", "street", "city", "region", "postalCode", "country", "externalId", "id", "externalIds",
}

// ndjsonSlot maps a known key to its place in ndjsonOrder, or -1 for the
// keys that are ignored.
var ndjsonSlot = func() map[string]int {
	m := make(map[string]int, len(ndjsonKeys))
	for k := range ndjsonKeys {
		m[k] = -1
	}
	for i, k := range ndjsonOrder {
		m[k] = i
	}
	return m
}()

// scalarString returns a JSON string, number or boolean as text; null is
// empty. Objects and arrays are not scalars.
func scalarString(raw string) (string, bool) {
	if len(raw) == 0 {
		return "", true
	}
	switch raw[0] {
	case '"':
		return strings.TrimSpace(unquote(raw)), true
	case '{', '[':
		return "", false
	case 'n':
		return "", true
	}
	return raw, true
}

// eachString calls fn with a non-empty scalar, or with each non-empty scalar
// of an array; it reports false for anything else.
func eachString(raw string, fn func(string)) bool {
	if len(raw) == 0 || raw[0] != '[' {
		v, ok := scalarString(raw)
		if ok && v != "" {
			fn(v)
		}
		return ok
	}
	ok := true
	scanArray(raw, func(item string) {
		v, isScalar := scalarString(item)
		if !isScalar {
			ok = false
		} else if v != "" && ok {
			fn(v)
		}
	})
	return ok
}

// extraValue keeps an unknown key's scalar as text and anything else as its
// JSON.
func extraValue(raw string) string {
	if v, ok := scalarString(raw); ok {
		return v
	}
	return raw
}

// jsonMessage shortens a decoding error for a person.
func jsonMessage(err error) string {
	return strings.TrimPrefix(err.Error(), "json: ")
}

// readNDJSONTags reads a tags value: an array of strings or one
// ";"-separated string; anything else is kept as extra data.
func readNDJSONTags(row *Row, raw string) {
	var list []string
	if json.Unmarshal([]byte(raw), &list) == nil {
		for _, t := range list {
			row.addTags(t, "\x00")
		}
		return
	}
	var s string
	if json.Unmarshal([]byte(raw), &s) == nil {
		row.addTags(s, ";")
		return
	}
	row.setExtra("tags", extraValue(raw))
}

// readNDJSONCustom reads a customFields object: each value as text (an
// array's strings joined by ";"); anything but an object is extra data.
func readNDJSONCustom(row *Row, raw string) {
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(raw), &m) != nil || m == nil {
		row.setExtra("customFields", extraValue(raw))
		return
	}
	for k, v := range m {
		var list []string
		text := extraValue(string(v))
		if json.Unmarshal(v, &list) == nil {
			text = strings.Join(list, ";")
		}
		if text == "" || text == "null" {
			continue
		}
		if row.Custom == nil {
			row.Custom = map[string]string{}
		}
		row.Custom[k] = text
	}
}
