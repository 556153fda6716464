package contactfile

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestVCardReader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file      string
		want      []contact
		wantExtra map[string]string // of the first card
	}{
		{
			file: "vcard30.vcf",
			want: []contact{
				{line: 1, id: "6E3B5A10-1C9A-4E0B-9F6E-0C2D8D3A1F00", first: "Margaret", last: "Hamilton",
					email: "mhamilton@example.gov", emails: "margaret@home.example",
					phone: "+1 (617) 555-0123", phones: "+1 617 555 0199",
					title: "Director of Software Engineering", company: "NASA"},
				{line: 18, first: "Dennis MacAlistair", last: "Ritchie", email: "dmr@example.com",
					phone: "908-555-0100", company: "Bell Labs"},
			},
			wantExtra: map[string]string{
				"note": "Wrote the code that landed Apollo 11, and coined \"software engineering\".\nSecond line.",
			},
		},
		{
			file: "vcard40.vcf",
			want: []contact{
				{line: 1, id: "urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1", first: "Barbara", last: "Liskov",
					email: "barbara@example.com", emails: "liskov@csail.example.edu",
					phone: "+1-617-555-0100 ext. 42", phones: "+1-617-555-0111",
					title: "Institute Professor", company: "MIT"},
				{line: 15, first: "Tim", last: "Berners-Lee", email: "timbl@example.org", company: "W3C"},
			},
			wantExtra: map[string]string{"x-ablabel": "mentor"},
		},
		{
			file: "vcard21.vcf",
			want: []contact{
				{line: 1, first: "Jürgen", last: "Müller", email: "juergen@example.de",
					phone: "+49 30 5550100", phones: "+49 30 5550199", company: "Bäckerei Müller GmbH"},
			},
			wantExtra: map[string]string{"note": "Line one\r\nLine two is a longer line that the phone split with a soft break"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			_, res := readFixture(t, tt.file, Options{})
			if res.err != nil || len(res.rowErrs) > 0 {
				t.Fatalf("err %v, row errors %v", res.err, res.rowErrs)
			}
			if len(res.rows) != len(tt.want) {
				t.Fatalf("got %d rows, want %d", len(res.rows), len(tt.want))
			}
			for i, row := range res.rows {
				got := contactOf(row)
				want := tt.want[i]
				if want.id == "" {
					want.id = got.id
				}
				if got != want {
					t.Errorf("card %d:\n got %+v\nwant %+v", i, got, want)
				}
			}
			for k, v := range tt.wantExtra {
				if got := res.rows[0].Extra[k]; got != v {
					t.Errorf("Extra[%q] = %q, want %q", k, got, v)
				}
			}
			if _, ok := res.rows[0].Extra["photo"]; ok {
				t.Error("PHOTO kept in Extra")
			}
		})
	}
}

func TestVCardReaderProblems(t *testing.T) {
	t.Parallel()
	card := func(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n" }
	tests := []struct {
		name         string
		in           string
		wantRows     int
		wantRowErrs  []int
		wantFatal    int
		wantFatalErr error
	}{
		{
			name:     "missing END before next BEGIN",
			in:       card("BEGIN:VCARD", "FN:Ada", "BEGIN:VCARD", "FN:Grace", "END:VCARD"),
			wantRows: 1, wantRowErrs: []int{1},
		},
		{
			name:     "truncated file",
			in:       card("BEGIN:VCARD", "FN:Ada", "END:VCARD", "BEGIN:VCARD", "FN:Grace"),
			wantRows: 1, wantFatal: 5, wantFatalErr: ErrUnterminatedCard,
		},
		{
			name:      "junk outside a card",
			in:        card("BEGIN:VCARD", "FN:Ada", "END:VCARD", "hello"),
			wantRows:  1,
			wantFatal: 4, wantFatalErr: ErrNotVCard,
		},
		{
			name:      "invalid UTF-8",
			in:        card("BEGIN:VCARD", "FN:Ada", "END:VCARD", "BEGIN:VCARD", "FN:J\xFCrgen", "END:VCARD"),
			wantRows:  1,
			wantFatal: 5, wantFatalErr: ErrInvalidUTF8,
		},
		{
			name:     "overlong email",
			in:       card("BEGIN:VCARD", "FN:Ada", "EMAIL:"+strings.Repeat("a", 300)+"@x", "END:VCARD", "BEGIN:VCARD", "FN:Grace", "END:VCARD"),
			wantRows: 1, wantRowErrs: []int{3},
		},
		{
			name:     "overlong photo is ignored",
			in:       card("BEGIN:VCARD", "FN:Ada", "PHOTO;ENCODING=b:"+strings.Repeat("QUJD", 100), " "+strings.Repeat("QUJD", 100), "END:VCARD"),
			wantRows: 1,
		},
		{
			name:     "QP value not UTF-8",
			in:       card("BEGIN:VCARD", "FN;ENCODING=QUOTED-PRINTABLE:J=FCrgen", "END:VCARD"),
			wantRows: 0, wantRowErrs: []int{2},
		},
		{
			name:     "fold splitting a UTF-8 sequence",
			in:       card("BEGIN:VCARD", "FN:J\xC3", " \xBCrgen", "END:VCARD"),
			wantRows: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, res := readString(t, tt.in, Options{Format: VCard, MaxLineBytes: 256})
			if len(res.rows) != tt.wantRows {
				t.Errorf("got %d rows, want %d", len(res.rows), tt.wantRows)
			}
			var errLines []int
			for _, e := range res.rowErrs {
				errLines = append(errLines, e.Line)
			}
			if !slices.Equal(errLines, tt.wantRowErrs) {
				t.Errorf("row errors %v, want lines %v", res.rowErrs, tt.wantRowErrs)
			}
			if tt.wantFatal == 0 {
				if res.err != nil {
					t.Fatalf("fatal %v", res.err)
				}
				return
			}
			if got := fileErrorLine(t, res.err); got != tt.wantFatal || !errors.Is(res.err, tt.wantFatalErr) {
				t.Errorf("fatal %v at line %d, want %v at %d", res.err, got, tt.wantFatalErr, tt.wantFatal)
			}
		})
	}
}
