package contactfile

import (
	"bufio"
	"encoding/json"
	"io"
	"time"
	"unicode/utf8"
)

// NDJSONWriter writes one JSON object per contact and line, with the keys of
// the CSV export header; phoneValid is true, false or null, times are RFC
// 3339 UTC strings (null when zero), externalIds is an array.
type NDJSONWriter struct {
	w   *bufio.Writer
	buf []byte
}

// NewNDJSONWriter returns an NDJSONWriter writing to w.
func NewNDJSONWriter(w io.Writer) *NDJSONWriter {
	return &NDJSONWriter{w: bufio.NewWriterSize(w, writeBufferSize), buf: make([]byte, 0, 1024)}
}

// Write writes one contact as a line.
func (nw *NDJSONWriter) Write(row *ExportRow) error {
	b := nw.buf[:0]
	b = append(b, `{"id":`...)
	b = appendJSONString(b, row.ID)
	fields := [...]struct {
		key string
		v   string
	}{
		{`,"firstName":`, row.FirstName}, {`,"lastName":`, row.LastName},
		{`,"email":`, row.Email}, {`,"phone":`, row.Phone}, {`,"title":`, row.Title},
		{`,"company":`, row.Company}, {`,"street":`, row.Street}, {`,"city":`, row.City},
		{`,"region":`, row.Region}, {`,"postalCode":`, row.PostalCode}, {`,"country":`, row.Country},
		{`,"normalizedEmail":`, row.NormalizedEmail},
		{`,"normalizedPhone":`, row.NormalizedPhone}, {`,"phoneExtension":`, row.PhoneExtension},
	}
	for _, f := range fields {
		b = append(b, f.key...)
		b = appendJSONString(b, f.v)
	}
	b = append(b, `,"phoneValid":`...)
	switch {
	case row.PhoneValid == nil:
		b = append(b, "null"...)
	case *row.PhoneValid:
		b = append(b, "true"...)
	default:
		b = append(b, "false"...)
	}
	b = append(b, `,"status":`...)
	b = appendJSONString(b, row.Status)
	b = append(b, `,"createdAt":`...)
	b = appendJSONTime(b, row.CreatedAt)
	b = append(b, `,"updatedAt":`...)
	b = appendJSONTime(b, row.UpdatedAt)
	b = append(b, `,"externalIds":[`...)
	for i, id := range row.ExternalIDs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, id)
	}
	b = append(b, `],"tags":[`...)
	for i, t := range row.Tags {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, t)
	}
	b = append(b, ']')
	if row.Type != "" {
		b = append(b, `,"type":`...)
		b = appendJSONString(b, row.Type)
	}
	if len(row.Custom) > 0 {
		// Values are strings, numbers, booleans and lists of strings: they always encode.
		cf, _ := json.Marshal(row.Custom)
		b = append(b, `,"customFields":`...)
		b = append(b, cf...)
	}
	b = append(b, "}\n"...)
	nw.buf = b
	_, err := nw.w.Write(b)
	return err
}

// Flush writes the buffered data.
func (nw *NDJSONWriter) Flush() error { return nw.w.Flush() }

// appendJSONTime appends t as an RFC 3339 UTC string, or null for the zero
// time.
func appendJSONTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, exportTimeLayout)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD; U+2028 and U+2029 are escaped for JavaScript consumers.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
