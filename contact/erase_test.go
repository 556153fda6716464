package contact_test

import (
	"context"
	"testing"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/dbtest"
)

// TestPersonalMentions: needles match anywhere, names only as whole words, ignoring case; what
// Mentions finds, the ILIKE patterns a trigram index looks up find too (they may find more).
func TestPersonalMentions(t *testing.T) {
	t.Parallel()
	p := &contact.Personal{Needles: []string{"ada@example.com", "+442079460958", "da@ex", "a_b%c"},
		Words: []string{"al", "lovelace", "love", "ada lovelace"}}
	tests := []struct {
		text string
		want bool
	}{
		{"write to ADA@Example.com please", true},
		{`{"phone": "+442079460958"}`, true},
		{"Al went home", true},
		{"Alice went home", false},
		{"dear al,", true},
		{"mrs. lovelace-byron", true},
		{"lovelaces", false},
		{"nothing here", false},
		{"lovely", false},
		{"my love.", true},
		{"xx+442079460958xx", true},
		{"Ada Lovelace!", true},
		{"a_b%c", true},
		{"aXbYc", false},
		{"wada@exe", true},
		{"", false},
	}
	pool := dbtest.Pool(t)
	for _, tt := range tests {
		if got := p.Mentions(tt.text); got != tt.want {
			t.Errorf("Mentions(%q) = %v, want %v", tt.text, got, tt.want)
		}
		var sql bool
		if err := pool.QueryRow(context.Background(), `SELECT $1 ILIKE ANY($2)`, tt.text, p.LikePatterns()).Scan(&sql); err != nil {
			t.Fatal(err)
		}
		// "al" is too short for a trigram: it is not looked up, so "Al went home" is not found.
		if tt.want && !sql && tt.text != "Al went home" && tt.text != "dear al," {
			t.Errorf("the ILIKE patterns miss %q, which Mentions finds", tt.text)
		}
	}
	out, changed, err := p.ScrubJSON([]byte(`{"a": ["Al", "Bob"], "b": {"email": "ada@example.com"}, "n": 1.5, "counts": {"lovelace": 2, "smith": 9}}`))
	if err != nil || !changed || string(out) != `{"a":["[erased]","Bob"],"b":{"email":"[erased]"},"counts":{"smith":9},"n":1.5}` {
		t.Errorf("ScrubJSON = %s, %v, %v", out, changed, err)
	}
}
