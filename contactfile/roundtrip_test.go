package contactfile

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// TestRoundTrip writes the export in each format and reads it back: the
// contact fields, the id and the external references survive, formula
// escapes included.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, f := range []Format{CSV, NDJSON, VCard} {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			rows := sampleExportRows()
			var buf bytes.Buffer
			w, err := NewWriter(&buf, f)
			if err != nil {
				t.Fatal(err)
			}
			for i := range rows {
				if err := w.Write(&rows[i]); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			r, res := readString(t, buf.String(), Options{})
			if r.Format() != f {
				t.Errorf("detected %s", r.Format())
			}
			if res.err != nil || len(res.rowErrs) > 0 || len(res.rows) != len(rows) {
				t.Fatalf("rows %d, row errors %v, err %v", len(res.rows), res.rowErrs, res.err)
			}
			if f == CSV && (!r.Mapping().ContactdExport || len(r.Mapping().Unmapped()) != 3) {
				t.Errorf("mapping %+v", r.Mapping())
			}
			for i, got := range res.rows {
				want := rows[i]
				wantContact := contact{
					line: got.Line, id: want.ID, first: want.FirstName, last: want.LastName,
					email: want.Email, phone: strings.TrimSpace(want.Phone), title: want.Title, company: want.Company,
				}
				if c := contactOf(got); c != wantContact {
					t.Errorf("row %d:\n got %+v\nwant %+v", i, c, wantContact)
				}
				if !slices.Equal(got.ExternalIDs, want.ExternalIDs) {
					t.Errorf("row %d: external ids %q, want %q", i, got.ExternalIDs, want.ExternalIDs)
				}
				if got.Extra["status"] != want.Status {
					t.Errorf("row %d: status %q", i, got.Extra["status"])
				}
			}
		})
	}
}
