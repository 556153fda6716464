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
			if f == CSV && (!r.Mapping().ContactdExport || len(r.Mapping().Unmapped()) != 4) {
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
				// The type is derived state, kept as extra data like the status (not in vCard:
				// CardDAV sync gives X-CONTACTD-<KEY> to custom fields, and type is a valid key).
				if f != VCard && want.Type != "" && got.Extra["type"] != want.Type {
					t.Errorf("row %d: type %q, want %q", i, got.Extra["type"], want.Type)
				}
			}
		})
	}
}

// TestRoundTripTagsAndCustom writes tags and custom values in each format and
// reads them back: tags (with separators in them escaped where the format
// can) in every format, custom values as CSV columns (Extra by key), as
// NDJSON customFields and as vCard X-CONTACTD-<KEY> properties (a key with
// an underscore included).
func TestRoundTripTagsAndCustom(t *testing.T) {
	t.Parallel()
	for _, f := range []Format{CSV, NDJSON, VCard} {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			row := ExportRow{ID: "c1", FirstName: "Ada", Tags: []string{"VIP", "Big, Co", "=x"},
				Custom: map[string]any{"industry": "Software", "employees": 42.5, "vip": true, "regions": []any{"EU", "US"}, "lead_source": "Web, paid"}}
			var buf bytes.Buffer
			w, err := NewExportWriter(&buf, f, []string{"employees", "industry", "lead_source", "regions", "vip"})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Write(&row); err != nil {
				t.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			_, res := readString(t, buf.String(), Options{})
			if len(res.rows) != 1 {
				t.Fatalf("rows %d, errors %v %v\n%s", len(res.rows), res.rowErrs, res.err, buf.String())
			}
			got := res.rows[0]
			if !slices.Equal(got.Tags, row.Tags) {
				t.Errorf("tags %q, want %q\n%s", got.Tags, row.Tags, buf.String())
			}
			want := map[string]string{"industry": "Software", "employees": "42.5", "vip": "true", "regions": "EU;US", "lead_source": "Web, paid"}
			var custom map[string]string
			switch f {
			case CSV:
				custom = got.Extra
			default:
				custom = got.Custom
				if f == VCard && !strings.Contains(buf.String(), "X-CONTACTD-LEAD-SOURCE:Web\\, paid\r\n") {
					t.Errorf("vCard has no X-CONTACTD-LEAD-SOURCE property:\n%s", buf.String())
				}
			}
			for k, v := range want {
				if custom[k] != v {
					t.Errorf("custom %s = %q, want %q (%v)", k, custom[k], v, custom)
				}
			}
		})
	}
}

func TestReadTagsColumnAndCategories(t *testing.T) {
	t.Parallel()
	_, res := readString(t, "First Name,Tags,Industry\nAda, vip ; partner ;,Retail\n", Options{})
	if len(res.rows) != 1 || !slices.Equal(res.rows[0].Tags, []string{"vip", "partner"}) || res.rows[0].Extra["Industry"] != "Retail" {
		t.Fatalf("csv: %+v", res.rows)
	}
	_, res = readString(t, "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ada\r\nCATEGORIES:vip,big\\, co\r\nEND:VCARD\r\n", Options{})
	if len(res.rows) != 1 || !slices.Equal(res.rows[0].Tags, []string{"vip", "big, co"}) {
		t.Fatalf("vcard: %+v", res.rows)
	}
}

// TestCustomKey: a custom key and its vCard property map both ways; contactd's own
// X-CONTACTD-STATUS and X-CONTACTD-EXTERNAL-ID and other X- properties are no custom field.
func TestCustomKey(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"industry", "lead_source", "a1_b2"} {
		if got, ok := CustomKey(CustomProperty(key)); !ok || got != key {
			t.Errorf("CustomKey(CustomProperty(%q)) = %q, %v", key, got, ok)
		}
	}
	if got, ok := CustomKey("x-contactd-lead-source"); !ok || got != "lead_source" {
		t.Errorf("lower-case property: %q, %v", got, ok)
	}
	for _, name := range []string{"X-CONTACTD-STATUS", "X-CONTACTD-EXTERNAL-ID", "X-CONTACTD-", "X-ABUID", "NOTE"} {
		if key, ok := CustomKey(name); ok {
			t.Errorf("CustomKey(%q) = %q, want none", name, key)
		}
	}
}
