package matcher

import (
	"math"
	"strings"
	"testing"
)

func TestNameDerivedLocal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		local, first, last string
		want               bool
	}{
		{"brenda.rodriguez", "brenda", "rodriguez", true},
		{"rodriguez.brenda", "brenda", "rodriguez", true},
		{"brodriguez", "brenda", "rodriguez", true},
		{"b.rodriguez", "brenda", "rodriguez", true},
		{"brendar", "brenda", "rodriguez", true},
		{"brenda_rodriguez", "brenda", "rodriguez", true},
		{"brenda", "brenda", "rodriguez", true},
		{"mary.ann.smith", "mary ann", "smith", true},
		{"br", "brenda", "rodriguez", false},                   // initials only
		{"brenda.rodriguez7", "brenda", "rodriguez", false},    // digits make it specific
		{"brenda.rodriguez", "brenda", "rodrigues", false},     // not this record's name
		{"brendabrenda", "brenda", "rodriguez", false},         // each token once
		{"thomas.petrov", "t", "petrov", false},                // "thomas" is not in the name
		{"sales", "brenda", "rodriguez", false},                // generic
		{"", "brenda", "rodriguez", false},                     // no local part
		{"brenda.rodriguez", "", "", false},                    // no name
		{"brenda+crm.rodriguez", "brenda", "rodriguez", false}, // other characters
	}
	for _, tt := range tests {
		t.Run(tt.local+"/"+tt.first+" "+tt.last, func(t *testing.T) {
			t.Parallel()
			if got := nameDerivedLocal(tt.local, tt.first, tt.last); got != tt.want {
				t.Errorf("nameDerivedLocal(%q, %q, %q) = %v; want %v", tt.local, tt.first, tt.last, got, tt.want)
			}
		})
	}
}

func FuzzNameDerivedLocal(f *testing.F) {
	f.Add("brenda.rodriguez", "brenda", "rodriguez")
	f.Add("jsmith", "john", "smith")
	f.Add("a.a.a.a.a.a.a.a", "a a a a a a a a a", "a")
	f.Fuzz(func(t *testing.T, local, first, last string) {
		got := nameDerivedLocal(local, first, last)
		if got != nameDerivedLocal(local, first, last) {
			t.Fatal("not deterministic")
		}
		if got && strings.ContainsAny(local, "0123456789@+") {
			t.Errorf("%q with digits or symbols is name-derived", local)
		}
		if got && !strings.ContainsAny(local, "abcdefghijklmnopqrstuvwxyz") {
			t.Errorf("%q without letters is name-derived", local)
		}
	})
}

func TestEstimateNameLocalU(t *testing.T) {
	t.Parallel()
	m, err := New(DefaultSettings())
	if err != nil {
		t.Fatal(err)
	}
	rec := func(first, last, email string) *Prepared {
		return m.Prepare(Record{"firstName": first, "lastName": last, "email": email})
	}
	// Four Brenda Rodriguezes at four employers, all brenda.rodriguez@:
	// six pairs, all at emailNameLocal. Two John Smiths with unrelated
	// addresses: one pair, not at it. Pairs with one name differing do
	// not count.
	recs := []*Prepared{
		rec("Brenda", "Rodriguez", "brenda.rodriguez@acme.com"),
		rec("Brenda", "Rodriguez", "brenda.rodriguez@initech.com"),
		rec("Brenda", "Rodriguez", "brenda.rodriguez@virtucon.com"),
		rec("Brenda", "Rodriguez", "brenda.rodriguez@hooli.com"),
		rec("John", "Smith", "john.smith@acme.com"),
		rec("John", "Smith", "jsmith77@gmail.com"),
		rec("Jane", "Smith", "john.smith@initech.com"),
	}
	got := m.estimateNameLocalU(recs, nil)
	if want := (6 + 0.5) / (7 + 1.0); math.Abs(got-want) > 1e-9 {
		t.Errorf("u = %v; want %v", got, want)
	}
	if got := m.estimateNameLocalU(recs[4:], nil); math.Abs(got-0.5/2) > 1e-9 {
		t.Errorf("u without namesakes sharing a local part = %v; want 0.25", got)
	}
}

// TestNamesakesAreNotMerged checks the failure of issue 14 on a trained
// model: two namesakes whose addresses are spelt from their name at two
// employers are not merged, while the same pair with a shared address is.
func TestNamesakesAreNotMerged(t *testing.T) {
	t.Parallel()
	md := goldenModel(t)
	m := md.Matcher()
	a := m.Prepare(Record{"firstName": "Brenda", "lastName": "Rodriguez", "email": "brenda.rodriguez@bellowscollege.net", "title": "Buyer"})
	b := m.Prepare(Record{"firstName": "Brenda", "lastName": "Rodriguez", "email": "brenda.rodriguez@virtucon.com", "title": "Buyer"})
	if e := md.Explain(a, b); e.Decision == Same {
		t.Errorf("namesakes at two employers: %s at %.2f bits; want not same", e.Decision, e.Total)
	}
	c := m.Prepare(Record{"firstName": "Brenda", "lastName": "Rodriguez", "email": "brenda.rodriguez@virtucon.com", "title": "Buyer"})
	if e := md.Explain(b, c); e.Decision != Same {
		t.Errorf("the same address: %s at %.2f bits; want same", e.Decision, e.Total)
	}
}
