package contactfile

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// Options configure a Reader. The zero value detects the format and maps
// columns automatically.
type Options struct {
	// Format is the file's format; empty means detect it with
	// DetectFormat from FileName, ContentType and the first bytes.
	Format Format
	// FileName and ContentType, when known (an upload's), help detection.
	FileName    string
	ContentType string
	// Mapping maps CSV column names to field names (ParseField spellings,
	// "-" to drop a column). It overrides recognition for the columns it
	// names; the others are still recognised. Every column it names must be
	// in the header.
	Mapping map[string]string
	// MaxLineBytes bounds an NDJSON line and an unfolded vCard property
	// (longer ones are row errors) and a CSV record (a longer one, usually
	// an unclosed quote, is fatal). Zero means DefaultMaxLineBytes.
	MaxLineBytes int
}

// DefaultMaxLineBytes is the line bound used when Options.MaxLineBytes is 0.
const DefaultMaxLineBytes = 1 << 20

// Byte order marks of UTF-16, which the Reader names in its error.
var (
	utf16LEBOM = []byte{0xFF, 0xFE}
	utf16BEBOM = []byte{0xFE, 0xFF}
)

// readBufferSize is the size of the Reader's input buffer, which is also
// how much of a file format and delimiter detection look at.
const readBufferSize = 64 << 10

// Reader reads contact rows from a file, one at a time, in constant memory.
// A Reader is not safe for concurrent use.
type Reader struct {
	format Format
	dec    decoder
	offset int
	err    error
}

// decoder is one format's record reader.
type decoder interface {
	// next reads the next record into row, filling only row.Line when build
	// is false. It returns a *RowError when the record was consumed but is
	// bad, io.EOF at the end, and any other error when the file is
	// malformed.
	next(row *Row, build bool) error
	mapping() Mapping
}

// NewReader returns a Reader of r. For CSV it reads up to the header, so it
// fails on a file without one, or on a Mapping naming columns the header
// lacks.
func NewReader(r io.Reader, opts Options) (*Reader, error) {
	br := bufio.NewReaderSize(r, readBufferSize)
	if head, _ := br.Peek(len(utf8BOM)); bytes.Equal(head, utf8BOM) {
		br.Discard(len(utf8BOM))
	}
	if head, _ := br.Peek(2); bytes.Equal(head, utf16LEBOM) || bytes.Equal(head, utf16BEBOM) {
		return nil, &FileError{Line: 1, Err: fmt.Errorf("%w: it is UTF-16; save it as UTF-8", ErrInvalidUTF8)}
	}
	format := opts.Format
	if format == "" {
		head, _ := br.Peek(512)
		f, err := DetectFormat(opts.FileName, opts.ContentType, head)
		if err != nil {
			return nil, err
		}
		format = f
	}
	maxLine := opts.MaxLineBytes
	if maxLine <= 0 {
		maxLine = DefaultMaxLineBytes
	}
	var dec decoder
	var err error
	switch format {
	case CSV:
		dec, err = newCSVDecoder(br, opts.Mapping, maxLine)
	case NDJSON:
		dec = newNDJSONDecoder(br, maxLine)
	case VCard:
		dec = newVCardDecoder(br, maxLine)
	default:
		err = fmt.Errorf("%w: %q", ErrUnknownFormat, format)
	}
	if err != nil {
		return nil, err
	}
	return &Reader{format: format, dec: dec}, nil
}

// Format returns the format being read.
func (r *Reader) Format() Format { return r.format }

// Mapping returns how the file's columns map to fields.
func (r *Reader) Mapping() Mapping { return r.dec.mapping() }

// Offset returns how many records have been read or skipped: the Index of
// the next row, and the value to pass to Skip to resume after them.
func (r *Reader) Offset() int { return r.offset }

// Next returns the next row. It returns io.EOF after the last one. A
// *RowError means that record is bad: the returned Row has its Index and
// Line, and the next call goes on with the following record. Any other
// error means the file is malformed (a *FileError naming the line) or could
// not be read; it is returned again by later calls.
func (r *Reader) Next() (Row, error) {
	if r.err != nil {
		return Row{}, r.err
	}
	var row Row
	err := r.dec.next(&row, true)
	if err != nil {
		if _, ok := err.(*RowError); !ok {
			r.err = err
			return Row{}, err
		}
		row = Row{Line: row.Line}
	}
	row.Index = r.offset
	r.offset++
	return row, err
}

// Skip passes over the next n records, good or bad, without building rows:
// a resumed import calls it with the number of records already committed.
// It returns io.EOF if the file ends first, and a fatal error as Next does.
func (r *Reader) Skip(n int) error {
	var row Row
	for ; n > 0; n-- {
		if r.err != nil {
			return r.err
		}
		err := r.dec.next(&row, false)
		if err != nil {
			if _, ok := err.(*RowError); !ok {
				r.err = err
				return err
			}
		}
		r.offset++
	}
	return nil
}
