package contactfile

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// maxPreamble bounds the single-cell records (LinkedIn's "Notes:") skipped
// while looking for a CSV header.
const maxPreamble = 16

// csvDecoder reads CSV with a header row. A data row whose field count
// differs from the header's is a row error: guessing which cells shifted
// would store data in the wrong fields.
type csvDecoder struct {
	cr       *csv.Reader
	in       *boundedReader
	endLine  int
	m        Mapping
	ids      *idHasher
	pending  []csvRecord
	nFields  int
	fullName string
}

type csvRecord struct {
	fields []string
	line   int
}

func newCSVDecoder(br *bufio.Reader, mapping map[string]string, maxRecord int) (*csvDecoder, error) {
	explicit, err := parseExplicit(mapping)
	if err != nil {
		return nil, err
	}
	head, _ := br.Peek(readBufferSize)
	in := &boundedReader{r: br, max: int64(maxRecord)}
	in.limit = in.max
	cr := csv.NewReader(in)
	cr.Comma = detectDelimiter(head)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	d := &csvDecoder{cr: cr, in: in, ids: newIDHasher()}
	if delim, ok := excelSeparator(head); ok {
		// Excel's "sep=;" line names the delimiter and is not the header.
		cr.Comma = delim
		if _, _, err := d.read(); err != nil {
			return nil, err
		}
	}
	header, line, err := d.readHeader(explicit)
	if err != nil {
		return nil, err
	}
	if err := checkExplicit(header, mapping); err != nil {
		return nil, err
	}
	d.nFields = len(header)
	d.m = Mapping{
		HeaderLine:     line,
		Columns:        buildMapping(header, explicit),
		ContactdExport: len(header) >= len(exportHeader) && slices.Equal(header[:len(exportHeader)], exportHeader[:]),
	}
	return d, nil
}

// readHeader returns the header record: the first with several cells or a
// recognised column name, passing over a preamble of single cells such as
// LinkedIn's "Notes:". If none shows up in maxPreamble records, the first
// record is the header and the others are replayed as data.
func (d *csvDecoder) readHeader(explicit map[string]Field) ([]string, int, error) {
	var skipped []csvRecord
	for len(skipped) < maxPreamble {
		rec, line, err := d.read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, err
		}
		if len(rec) > 1 || headerScore(rec, explicit) > 0 {
			return slices.Clone(rec), line, nil
		}
		skipped = append(skipped, csvRecord{fields: slices.Clone(rec), line: line})
	}
	if len(skipped) == 0 {
		return nil, 0, &FileError{Line: 1, Err: ErrNoHeader}
	}
	d.pending = skipped[1:]
	return skipped[0].fields, skipped[0].line, nil
}

// read returns the next record and the line it starts on, checking its
// encoding.
func (d *csvDecoder) read() ([]string, int, error) {
	rec, err := d.cr.Read()
	if err != nil {
		var pe *csv.ParseError
		switch {
		case errors.As(err, &pe):
			return nil, 0, &FileError{Line: pe.Line, Err: fmt.Errorf("broken quoting: %w", pe)}
		case errors.Is(err, errRecordTooLong):
			return nil, 0, &FileError{Line: d.endLine + 1,
				Err: fmt.Errorf("record longer than %d bytes (is a quote left open?)", d.in.max)}
		}
		return nil, 0, err
	}
	line, _ := d.cr.FieldPos(0)
	last, _ := d.cr.FieldPos(len(rec) - 1)
	d.endLine = last + strings.Count(rec[len(rec)-1], "\n")
	d.in.limit = d.cr.InputOffset() + d.in.max + csvReadAhead
	for i, f := range rec {
		if !utf8.ValidString(f) {
			fl, _ := d.cr.FieldPos(i)
			return nil, 0, &FileError{Line: fl + invalidLineOffset(f), Err: ErrInvalidUTF8}
		}
	}
	return rec, line, nil
}

// invalidLineOffset counts the newlines in a multi-line field before its
// first invalid byte.
func invalidLineOffset(f string) int {
	n := 0
	for i := 0; i < len(f); {
		r, size := utf8.DecodeRuneInString(f[i:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		if r == '\n' {
			n++
		}
		i += size
	}
	return n
}

func (d *csvDecoder) mapping() Mapping { return d.m }

func (d *csvDecoder) next(row *Row, build bool) error {
	var rec []string
	if len(d.pending) > 0 {
		rec, row.Line = d.pending[0].fields, d.pending[0].line
		d.pending = d.pending[1:]
	} else {
		var err error
		rec, row.Line, err = d.read()
		if err != nil {
			return err
		}
	}
	if len(rec) != d.nFields {
		return &RowError{Line: row.Line, Message: fmt.Sprintf("has %d fields, the header has %d", len(rec), d.nFields)}
	}
	if !build {
		return nil
	}
	d.fullName = ""
	for _, c := range d.m.Columns {
		v := rec[c.Index]
		if d.m.ContactdExport {
			v = unescapeFormula(v)
		}
		d.set(row, c, strings.TrimSpace(v))
	}
	d.ids.finish(row, d.fullName)
	return nil
}

// set stores one cell; single-valued fields keep the first non-empty cell.
func (d *csvDecoder) set(row *Row, c Column, v string) {
	if v == "" {
		return
	}
	switch c.Field {
	case FieldFirstName:
		row.FirstName = cmpOr(row.FirstName, v)
	case FieldLastName:
		row.LastName = cmpOr(row.LastName, v)
	case FieldFullName:
		d.fullName = cmpOr(d.fullName, v)
	case FieldTitle:
		row.Title = cmpOr(row.Title, v)
	case FieldCompany:
		row.Company = cmpOr(row.Company, v)
	case FieldStreet, FieldCity, FieldRegion, FieldPostalCode, FieldCountry:
		if p := row.addressPart(c.Field); *p == "" {
			*p = oneLine(v)
		}
	case FieldExternalID:
		row.ExternalID = cmpOr(row.ExternalID, v)
	case FieldEmail:
		for s := range strings.SplitSeq(v, googleSeparator) {
			row.addEmail(strings.TrimSpace(s))
		}
	case FieldPhone:
		for s := range strings.SplitSeq(v, googleSeparator) {
			row.addPhone(strings.TrimSpace(s))
		}
	case FieldExternalIDs:
		for s := range strings.SplitSeq(v, ";") {
			if s = strings.TrimSpace(s); s != "" {
				row.ExternalIDs = append(row.ExternalIDs, s)
			}
		}
	case FieldTags:
		row.addTags(v, ";")
	case FieldExtra:
		row.setExtra(c.Name, v)
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// googleSeparator separates several values in one Google Contacts cell.
const googleSeparator = " ::: "

// csvReadAhead is how far encoding/csv reads ahead of the record it
// returns (its bufio.Reader's size).
const csvReadAhead = 4096

// errRecordTooLong stops encoding/csv from buffering a record without bound.
var errRecordTooLong = errors.New("record too long")

// boundedReader fails reads past limit, which the decoder moves forward
// after every record: encoding/csv would otherwise hold a whole file that
// has an unclosed quote in memory.
type boundedReader struct {
	r          io.Reader
	n          int64
	limit, max int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.n >= b.limit {
		return 0, errRecordTooLong
	}
	if int64(len(p)) > b.limit-b.n {
		p = p[:b.limit-b.n]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	return n, err
}

// excelSeparator reads the delimiter from an Excel "sep=X" first line.
func excelSeparator(head []byte) (rune, bool) {
	if len(head) < 5 || !equalFold(head[:4], "SEP=") {
		return 0, false
	}
	rest := head[5:]
	if len(rest) > 0 && rest[0] == '\r' {
		rest = rest[1:]
	}
	if len(rest) > 0 && rest[0] != '\n' {
		return 0, false
	}
	switch head[4] {
	case ',', ';', '\t', '|':
		return rune(head[4]), true
	}
	return 0, false
}

// detectDelimiter picks comma, semicolon or tab: the one that occurs most
// often, outside quotes, on a single line of head. Ties go to comma.
func detectDelimiter(head []byte) rune {
	best, bestN := ',', 0
	for _, delim := range []byte{',', ';', '\t'} {
		n, inQuotes := 0, false
		maxN := 0
		for _, c := range head {
			switch {
			case c == '"':
				inQuotes = !inQuotes
			case c == '\n' && !inQuotes:
				maxN = max(maxN, n)
				n = 0
			case c == delim && !inQuotes:
				n++
			}
		}
		maxN = max(maxN, n)
		if maxN > bestN {
			best, bestN = rune(delim), maxN
		}
	}
	return best
}
