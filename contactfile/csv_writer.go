package contactfile

import (
	"bufio"
	"io"
	"strings"
	"time"
)

// CSVWriter writes contactd's CSV export: the ExportHeader columns, RFC 4180
// quoting, times in RFC 3339 UTC, external ids joined with ";". A cell that
// a spreadsheet would run as a formula (beginning with =, +, -, @, tab or
// CR) is prefixed with a single quote; a Reader undoes it.
type CSVWriter struct {
	w           *bufio.Writer
	buf         []byte
	wroteHeader bool
	// custom are the custom field keys that have a column each.
	custom []string
}

// NewCSVWriter returns a CSVWriter writing to w.
func NewCSVWriter(w io.Writer) *CSVWriter {
	return &CSVWriter{w: bufio.NewWriterSize(w, writeBufferSize), buf: make([]byte, 0, 512)}
}

// Write writes one contact, after the header if it is the first.
func (cw *CSVWriter) Write(row *ExportRow) error {
	if !cw.wroteHeader {
		cw.writeHeader()
	}
	b := cw.buf[:0]
	b = appendCSVCell(b, row.ID)
	for _, s := range [...]string{
		row.FirstName, row.LastName, row.Email, row.Phone, row.Title, row.Company,
		row.NormalizedEmail, row.NormalizedPhone, row.PhoneExtension,
	} {
		b = append(b, ',')
		b = appendCSVCell(b, s)
	}
	b = append(b, ',')
	if row.PhoneValid != nil {
		if *row.PhoneValid {
			b = append(b, "true"...)
		} else {
			b = append(b, "false"...)
		}
	}
	b = append(b, ',')
	b = appendCSVCell(b, row.Status)
	b = append(b, ',')
	b = appendTime(b, row.CreatedAt)
	b = append(b, ',')
	b = appendTime(b, row.UpdatedAt)
	b = append(b, ',')
	b = appendCSVCell(b, strings.Join(row.ExternalIDs, ";"))
	b = append(b, ',')
	b = appendCSVCell(b, strings.Join(row.Tags, ";"))
	for _, s := range [...]string{row.Street, row.City, row.Region, row.PostalCode, row.Country} {
		b = append(b, ',')
		b = appendCSVCell(b, s)
	}
	b = append(b, ',')
	b = appendCSVCell(b, row.Type)
	for _, k := range cw.custom {
		b = append(b, ',')
		b = appendCSVCell(b, CustomText(row.Custom[k]))
	}
	b = append(b, '\n')
	cw.buf = b
	_, err := cw.w.Write(b)
	return err
}

// Flush writes the header if no row was written, then the buffered data.
func (cw *CSVWriter) Flush() error {
	if !cw.wroteHeader {
		cw.writeHeader()
	}
	return cw.w.Flush()
}

func (cw *CSVWriter) writeHeader() {
	cw.wroteHeader = true
	b := cw.buf[:0]
	for i, h := range exportHeader {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, h...)
	}
	// The address after the tags: exports from before it still start with exportHeader.
	b = append(b, ",tags,street,city,region,postalCode,country,type"...)
	for _, k := range cw.custom {
		b = append(b, ',')
		b = appendCSVCell(b, k)
	}
	cw.w.Write(append(b, '\n'))
}

// appendTime appends t in RFC 3339 UTC, or nothing for the zero time.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return b
	}
	return t.UTC().AppendFormat(b, exportTimeLayout)
}

// appendCSVCell appends s as one CSV cell, formula-escaped and quoted when
// needed.
func appendCSVCell(b []byte, s string) []byte {
	escape := needsFormulaEscape(s)
	if !escape && !csvNeedsQuotes(s) {
		return append(b, s...)
	}
	if escape && !csvNeedsQuotes(s) {
		b = append(b, '\'')
		return append(b, s...)
	}
	b = append(b, '"')
	if escape {
		b = append(b, '\'')
	}
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			break
		}
		b = append(b, s[:i+1]...)
		b = append(b, '"')
		s = s[i+1:]
	}
	b = append(b, s...)
	return append(b, '"')
}

// csvNeedsQuotes reports whether a cell must be quoted: it holds a comma,
// quote or line break, or begins with a space (which some readers trim).
func csvNeedsQuotes(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == ' ' || s[0] == '\t' {
		return true
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ',', '"', '\r', '\n':
			return true
		}
	}
	return false
}
