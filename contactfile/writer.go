package contactfile

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// ExportRow is one contact as exported.
type ExportRow struct {
	ID        string
	FirstName string
	LastName  string
	Email     string
	Phone     string
	Title     string
	Company   string
	// Street, City, Region, PostalCode and Country are the postal address.
	Street, City, Region, PostalCode, Country string
	NormalizedEmail                           string
	NormalizedPhone                           string
	PhoneExtension                            string
	// PhoneValid is nil when the phone was not checked (or there is none).
	PhoneValid *bool
	Status     string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// ExternalIDs are the contact's external references as "source:id".
	ExternalIDs []string
	// Tags are the contact's tags.
	Tags []string
	// Type is the contact's type (business, user or account), explicit or derived: exported,
	// and ignored when contactd reads its own export back.
	Type string
	// Custom are the contact's custom field values by key: strings,
	// float64, bool, or lists of strings ([]string or []any).
	Custom map[string]any
}

// CustomText is a custom value as a CSV cell holds it: a number in its
// shortest form, a list joined by ";".
func CustomText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case []string:
		return strings.Join(x, ";")
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = CustomText(e)
		}
		return strings.Join(parts, ";")
	}
	return fmt.Sprint(v)
}

// Writer writes exported contacts in one format. Writes are buffered: call
// Flush at the end (and whenever the output should reach its destination),
// and check its error. A Writer is not safe for concurrent use.
type Writer interface {
	// Write writes one contact. The row is not retained.
	Write(row *ExportRow) error
	// Flush writes what is buffered (for CSV, at least the header) to the
	// underlying writer.
	Flush() error
}

// writeBufferSize is the size of a Writer's output buffer.
const writeBufferSize = 64 << 10

// NewWriter returns a Writer of the given format writing to w.
func NewWriter(w io.Writer, f Format) (Writer, error) { return NewExportWriter(w, f, nil) }

// NewExportWriter returns a Writer of the given format writing to w; a CSV
// one has a column for each of the custom field keys, after the tags
// column. NDJSON writes every custom value whatever the keys.
func NewExportWriter(w io.Writer, f Format, customKeys []string) (Writer, error) {
	switch f {
	case CSV:
		cw := NewCSVWriter(w)
		cw.custom = customKeys
		return cw, nil
	case NDJSON:
		return NewNDJSONWriter(w), nil
	case VCard:
		return NewVCardWriter(w), nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownFormat, f)
}

// exportHeader is the header of contactd's CSV export.
var exportHeader = [...]string{
	"id", "firstName", "lastName", "email", "phone", "title", "company",
	"normalizedEmail", "normalizedPhone", "phoneExtension", "phoneValid",
	"status", "createdAt", "updatedAt", "externalIds",
}

// ExportHeader returns the fixed columns of contactd's CSV export, in
// order; the export adds a tags column and a column per custom field after
// them. A Reader recognises a file whose header begins with these and
// undoes its formula escaping.
func ExportHeader() []string { return append([]string(nil), exportHeader[:]...) }

// exportTimeLayout is how export times are written (in UTC).
const exportTimeLayout = time.RFC3339Nano

// formulaTrigger reports whether a spreadsheet would take a cell beginning
// with c as a formula.
func formulaTrigger(c byte) bool {
	switch c {
	case '=', '+', '-', '@', '\t', '\r':
		return true
	}
	return false
}

// needsFormulaEscape reports whether s, after any leading single quotes,
// begins with a formula trigger. Escaping such values too (not just those
// beginning with a trigger) makes the escape reversible: "'=x" is written
// "”=x" and read back as "'=x".
func needsFormulaEscape(s string) bool {
	i := 0
	for i < len(s) && s[i] == '\'' {
		i++
	}
	return i < len(s) && formulaTrigger(s[i])
}

// unescapeFormula undoes the export's formula escape.
func unescapeFormula(s string) string {
	if len(s) > 1 && s[0] == '\'' && needsFormulaEscape(s[1:]) {
		return s[1:]
	}
	return s
}
