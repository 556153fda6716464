package retention_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/contactd/contactd/internal/apptest"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/retention"
)

func TestParseCriteria(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		bad      []string // the fields named, sorted; nil: valid
	}{
		{"empty", `{}`, nil},
		{"all set", `{"status": "Archived", "tag": " VIP ", "inactiveDays": 365, "noLawfulBasis": true}`, nil},
		{"nulls are absent", `{"status": null, "tag": null, "inactiveDays": null, "noLawfulBasis": null}`, nil},
		{"status all", `{"status": "all"}`, nil},
		{"not an object", `[]`, []string{"filter"}},
		{"unknown field", `{"company": "Acme"}`, []string{"filter.company"}},
		{"bad status", `{"status": "gone"}`, []string{"filter.status"}},
		{"merged status", `{"status": "merged"}`, []string{"filter.status"}},
		{"days too few", `{"inactiveDays": 0}`, []string{"filter.inactiveDays"}},
		{"days too many", `{"inactiveDays": 36501}`, []string{"filter.inactiveDays"}},
		{"days not a number", `{"inactiveDays": "a year"}`, []string{"filter.inactiveDays"}},
		{"days not whole", `{"inactiveDays": 1.5}`, []string{"filter.inactiveDays"}},
		{"basis not a bool", `{"noLawfulBasis": "yes"}`, []string{"filter.noLawfulBasis"}},
		{"tag with control characters", `{"tag": "a\u0001"}`, []string{"filter.tag"}},
		{"every wrong field", `{"status": 1, "tag": 2, "inactiveDays": -1, "noLawfulBasis": 0}`,
			[]string{"filter.inactiveDays", "filter.noLawfulBasis", "filter.status", "filter.tag"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := retention.ParseCriteria(json.RawMessage(tc.in))
			if tc.bad == nil {
				if err != nil {
					t.Fatalf("got %v, want valid", err)
				}
				if tc.name == "all set" && (c.Status != "archived" || c.Tag != "VIP" || *c.InactiveDays != 365 || !*c.NoLawfulBasis) {
					t.Fatalf("got %+v", c)
				}
				return
			}
			de := apptest.RequireKind(t, err, db.KindInvalid)
			var got []string
			for _, f := range de.Fields {
				got = append(got, f.Field)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.bad) {
				t.Fatalf("fields %v, want %v", got, tc.bad)
			}
		})
	}
}

func FuzzParseCriteria(f *testing.F) {
	for _, s := range []string{`{}`, `{"status":"all","tag":"x","inactiveDays":3,"noLawfulBasis":false}`, `{"inactiveDays":1e9}`, `null`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		c, err := retention.ParseCriteria(json.RawMessage(in))
		if err != nil {
			if db.ErrorKind(err) != db.KindInvalid {
				t.Fatalf("%q: %v is not a validation error", in, err)
			}
			return
		}
		// What is accepted stays accepted once stored and read back.
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := retention.ParseCriteria(b); err != nil {
			t.Fatalf("%q: stored as %s, then refused: %v", in, b, err)
		}
	})
}
