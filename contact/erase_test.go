package contact_test

import (
	"context"
	"testing"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/dbtest"
)

// TestPersonalMentions: needles match anywhere, names only as whole words, ignoring case; the
// SQL patterns agree with Mentions.
func TestPersonalMentions(t *testing.T) {
	t.Parallel()
	p := &contact.Personal{Needles: []string{"ada@example.com", "+442079460958"}, Words: []string{"al", "lovelace"}}
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
		{"", false},
	}
	pool := dbtest.Pool(t)
	for _, tt := range tests {
		if got := p.Mentions(tt.text); got != tt.want {
			t.Errorf("Mentions(%q) = %v, want %v", tt.text, got, tt.want)
		}
		var sql bool
		if err := pool.QueryRow(context.Background(), `SELECT $1 ~* ANY($2)`, tt.text, p.Patterns()).Scan(&sql); err != nil {
			t.Fatal(err)
		}
		if sql != tt.want {
			t.Errorf("SQL patterns on %q = %v, want %v", tt.text, sql, tt.want)
		}
	}
	out, changed, err := p.ScrubJSON([]byte(`{"a": ["Al", "Bob"], "b": {"email": "ada@example.com"}, "n": 1.5, "counts": {"lovelace": 2, "smith": 9}}`))
	if err != nil || !changed || string(out) != `{"a":["[erased]","Bob"],"b":{"email":"[erased]"},"counts":{"smith":9},"n":1.5}` {
		t.Errorf("ScrubJSON = %s, %v, %v", out, changed, err)
	}
}
