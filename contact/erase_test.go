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

// TestPersonalFirstNames: a first name alone (many people have it) is no mention; in a row that
// mentions the person otherwise, it is scrubbed with the rest.
func TestPersonalFirstNames(t *testing.T) {
	t.Parallel()
	p := &contact.Personal{Needles: []string{"james.smith@example.com"}, Words: []string{"smith", "james smith"},
		FirstNames: []string{"james"}}
	for text, want := range map[string]bool{
		"duplicate of James Brown":                 false,
		"James":                                    false,
		"duplicate of James Smith":                 true,
		"write to JAMES.SMITH@example.com":         true,
		"James wrote from james.smith@example.com": true,
	} {
		if got := p.Mentions(text); got != want {
			t.Errorf("Mentions(%q) = %v, want %v", text, got, want)
		}
	}
	if !p.MentionsInRow("James") || p.MentionsInRow("Brown") {
		t.Error("MentionsInRow does not take a first name alone")
	}
	for _, tt := range []struct{ in, want string }{
		{`{"first": "James", "last": "Brown"}`, `{"first": "James", "last": "Brown"}`},
		{`{"first": "James", "email": "james.smith@example.com", "note": "ok"}`, `{"email":"[erased]","first":"[erased]","note":"ok"}`},
		{`{"James": 1, "who": "James Smith"}`, `{"who":"[erased]"}`},
	} {
		out, _, err := p.ScrubJSON([]byte(tt.in))
		if err != nil || string(out) != tt.want {
			t.Errorf("ScrubJSON(%s) = %s, %v; want %s", tt.in, out, err, tt.want)
		}
	}
	for _, pat := range p.LikePatterns() {
		if pat == "%james%" {
			t.Error("LikePatterns looks up a first name alone")
		}
	}
}
