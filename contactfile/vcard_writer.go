package contactfile

import (
	"bufio"
	"io"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"
)

// VCardWriter writes vCard 4.0 (RFC 6350): UID is the contact id, FN and N
// the name, EMAIL and TEL (as text, as entered) preferred, ORG, TITLE, REV
// the update time, and X-CONTACTD-STATUS, X-CONTACTD-EXTERNAL-ID and a
// custom field's X-CONTACTD-<KEY> (CustomProperty; its value as a CSV cell
// holds it, CustomText) for what vCard has no property for. Lines end in CRLF
// and are folded at 75 octets.
type VCardWriter struct {
	w    *bufio.Writer
	buf  []byte
	line []byte
}

// NewVCardWriter returns a VCardWriter writing to w.
func NewVCardWriter(w io.Writer) *VCardWriter {
	return &VCardWriter{w: bufio.NewWriterSize(w, writeBufferSize), buf: make([]byte, 0, 1024)}
}

// Write writes one contact as a card.
func (vw *VCardWriter) Write(row *ExportRow) error {
	vw.buf = append(vw.buf[:0], "BEGIN:VCARD\r\nVERSION:4.0\r\n"...)
	if row.ID != "" {
		vw.prop("UID:", row.ID, false)
	}
	vw.prop("FN:", formattedName(row), false)
	vw.line = append(vw.line[:0], "N:"...)
	vw.line = appendVCardText(vw.line, row.LastName, true)
	vw.line = append(vw.line, ';')
	vw.line = appendVCardText(vw.line, row.FirstName, true)
	vw.line = append(vw.line, ";;;"...)
	vw.fold()
	if row.Email != "" {
		vw.prop("EMAIL;PREF=1:", row.Email, false)
	}
	if row.Phone != "" {
		vw.prop("TEL;VALUE=text;PREF=1:", row.Phone, false)
	}
	if row.Company != "" {
		vw.prop("ORG:", row.Company, true)
	}
	if row.Title != "" {
		vw.prop("TITLE:", row.Title, false)
	}
	if row.Street != "" || row.City != "" || row.Region != "" || row.PostalCode != "" || row.Country != "" {
		vw.line = append(vw.line[:0], "ADR:;;"...)
		for i, s := range [...]string{row.Street, row.City, row.Region, row.PostalCode, row.Country} {
			if i > 0 {
				vw.line = append(vw.line, ';')
			}
			vw.line = appendVCardText(vw.line, s, true)
		}
		vw.fold()
	}
	if row.Status != "" {
		vw.prop("X-CONTACTD-STATUS:", row.Status, false)
	}
	for _, id := range row.ExternalIDs {
		vw.prop("X-CONTACTD-EXTERNAL-ID:", id, false)
	}
	for _, k := range slices.Sorted(maps.Keys(row.Custom)) {
		if v := CustomText(row.Custom[k]); v != "" {
			vw.prop(CustomProperty(k)+":", v, false)
		}
	}
	if len(row.Tags) > 0 {
		vw.line = append(vw.line[:0], "CATEGORIES:"...)
		for i, t := range row.Tags {
			if i > 0 {
				vw.line = append(vw.line, ',')
			}
			vw.line = appendVCardText(vw.line, t, false)
		}
		vw.fold()
	}
	if !row.UpdatedAt.IsZero() {
		vw.line = append(vw.line[:0], "REV:"...)
		vw.line = row.UpdatedAt.UTC().AppendFormat(vw.line, "20060102T150405Z")
		vw.fold()
	}
	vw.buf = append(vw.buf, "END:VCARD\r\n"...)
	_, err := vw.w.Write(vw.buf)
	return err
}

// Flush writes the buffered data.
func (vw *VCardWriter) Flush() error { return vw.w.Flush() }

// formattedName is FN: the name, else the email, else the phone (FN is
// required).
func formattedName(row *ExportRow) string {
	switch {
	case row.FirstName != "" && row.LastName != "":
		return row.FirstName + " " + row.LastName
	case row.FirstName != "" || row.LastName != "":
		return row.FirstName + row.LastName
	case row.Email != "":
		return row.Email
	}
	return row.Phone
}

// prop appends a property with an escaped text value.
func (vw *VCardWriter) prop(nameAndParams, value string, structured bool) {
	vw.line = append(vw.line[:0], nameAndParams...)
	vw.line = appendVCardText(vw.line, value, structured)
	vw.fold()
}

// fold appends vw.line to the card, folded at 75 octets without splitting a
// UTF-8 sequence.
func (vw *VCardWriter) fold() {
	l := vw.line
	limit := 75
	for len(l) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(l[cut]) {
			cut--
		}
		vw.buf = append(vw.buf, l[:cut]...)
		vw.buf = append(vw.buf, "\r\n "...)
		l = l[cut:]
		limit = 74
	}
	vw.buf = append(vw.buf, l...)
	vw.buf = append(vw.buf, "\r\n"...)
}

// appendVCardText escapes backslash, comma, newline and (in structured
// values, where it separates components) semicolon.
func appendVCardText(b []byte, s string, structured bool) []byte {
	if !strings.ContainsAny(s, "\\,;\r\n") {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', ',':
			b = append(b, '\\', c)
		case ';':
			if structured {
				b = append(b, '\\')
			}
			b = append(b, c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				continue
			}
			b = append(b, '\\', 'n')
		default:
			b = append(b, c)
		}
	}
	return b
}
