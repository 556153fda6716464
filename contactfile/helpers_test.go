package contactfile

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

// readResult is everything a Reader yielded.
type readResult struct {
	rows    []Row
	rowErrs []*RowError
	err     error
}

// readAll drains r, collecting rows, row errors and the fatal error (nil at
// a clean end).
func readAll(t testing.TB, r *Reader) readResult {
	t.Helper()
	var res readResult
	for {
		row, err := r.Next()
		if err == io.EOF {
			return res
		}
		var rowErr *RowError
		switch {
		case errors.As(err, &rowErr):
			res.rowErrs = append(res.rowErrs, rowErr)
		case err != nil:
			res.err = err
			return res
		default:
			res.rows = append(res.rows, row)
		}
	}
}

// readString reads s as a file with opts.
func readString(t testing.TB, s string, opts Options) (*Reader, readResult) {
	t.Helper()
	r, err := NewReader(strings.NewReader(s), opts)
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	return r, readAll(t, r)
}

// readFixture reads a file of testdata.
func readFixture(t testing.TB, name string, opts Options) (*Reader, readResult) {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	r, err := NewReader(f, opts)
	if err != nil {
		t.Fatalf("NewReader(%s): %v", name, err)
	}
	return r, readAll(t, r)
}

// contact is the comparable part of a Row.
type contact struct {
	line                                          int
	first, last, email, phone, title, company, id string
	emails, phones                                string
}

func contactOf(r Row) contact {
	return contact{
		line: r.Line, first: r.FirstName, last: r.LastName, email: r.Email, phone: r.Phone,
		title: r.Title, company: r.Company, id: r.ExternalID,
		emails: strings.Join(r.Emails, "|"), phones: strings.Join(r.Phones, "|"),
	}
}

// fileErrorLine returns the line of a *FileError, failing if err is not one.
func fileErrorLine(t testing.TB, err error) int {
	t.Helper()
	var fe *FileError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *FileError", err, err)
	}
	return fe.Line
}
