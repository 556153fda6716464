package contactfile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// fuzzRead reads data as format and checks the invariants every reader
// keeps: no panic, rows in order with their lines, every error carrying a
// line, and an end that is io.EOF or a fatal error.
func fuzzRead(t *testing.T, format Format, data []byte) {
	r, err := NewReader(bytes.NewReader(data), Options{Format: format, MaxLineBytes: 512})
	if err != nil {
		var fe *FileError
		if errors.As(err, &fe) && fe.Line < 1 {
			t.Fatalf("NewReader error without a line: %v", err)
		}
		return
	}
	lastLine := 0
	for i := 0; ; i++ {
		row, err := r.Next()
		if err == io.EOF {
			return
		}
		var rowErr *RowError
		var fileErr *FileError
		switch {
		case errors.As(err, &rowErr):
			if rowErr.Line < 1 || rowErr.Line < lastLine {
				t.Fatalf("row error at line %d after line %d: %v", rowErr.Line, lastLine, err)
			}
		case errors.As(err, &fileErr):
			if fileErr.Line < 1 {
				t.Fatalf("file error without a line: %v", err)
			}
			return
		case err != nil:
			t.Fatalf("error neither a RowError nor a FileError: %v (%T)", err, err)
		default:
			if row.ExternalID == "" {
				t.Fatalf("row without an external id: %+v", row)
			}
		}
		if row.Index != i || row.Line <= lastLine {
			t.Fatalf("row %d: index %d, line %d after line %d", i, row.Index, row.Line, lastLine)
		}
		lastLine = row.Line
	}
}

// addSeeds adds the testdata files with the given extension.
func addSeeds(f *testing.F, ext string) {
	paths, _ := filepath.Glob("testdata/*" + ext)
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

func FuzzCSVReader(f *testing.F) {
	addSeeds(f, ".csv")
	f.Add([]byte("firstName,notes\n\"a\nb\",\"c\"\"d\"\n"))
	f.Add([]byte("\xEF\xBB\xBFa;b\n\"x;y\";z\n"))
	f.Add([]byte("Notes:\n\"blah\"\n\nFirst Name,Email\nA,\"b\n"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, CSV, data) })
}

func FuzzNDJSONReader(f *testing.F) {
	addSeeds(f, ".ndjson")
	f.Add([]byte("{\"id\":1}\n\n{\"emails\":[1,null,\"x\"]}\r\n{"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, NDJSON, data) })
}

func FuzzVCardReader(f *testing.F) {
	addSeeds(f, ".vcf")
	f.Add([]byte("BEGIN:VCARD\nN;ENCODING=QUOTED-PRINTABLE:a=\nb\n c;d\nEND:VCARD\n"))
	f.Add([]byte("BEGIN:VCARD\nTEL;VALUE=uri;PREF=2:tel:+1;ext=2\nBEGIN:VCARD\nEND:VCARD"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, VCard, data) })
}
