package contact_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/contactd/contactd/contact"
	"github.com/google/uuid"
)

// TestSearchWordDistance: a transposition of two adjacent letters is one edit, like an
// insertion, a deletion or a substitution.
func TestSearchWordDistance(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"jhon", "john", 1}, {"smiht", "smith", 1}, {"jon", "john", 1}, {"john", "john", 0}, {"", "ab", 2},
		{"kitten", "sitting", 3}, {"ca", "abc", 3}, {"abcd", "badc", 2},
	} {
		var got int
		if err := b.Pool.QueryRow(b.Ctx, `SELECT search_word_distance($1, $2)`, tt.a, tt.b).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("search_word_distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestSearchFirstPageIsTheRankedPrefix: the first page of a search in relevance order (which
// reads at most a page per name) lists what the whole ranking (read to its end, as later pages
// are) starts with, for searches whose names have more contacts than a page, with and without
// a filter.
func TestSearchFirstPageIsTheRankedPrefix(t *testing.T) {
	t.Parallel()
	b := setup(t)
	firsts := []string{"James", "Jamie", "Jane", "Jameson", "Janet"}
	lasts := []string{"Smith", "Smyth", "James", "Smithers", "Jones"}
	for i := range 120 {
		var tags []string
		if i%3 == 0 {
			tags = []string{"vip"}
		}
		if _, err := b.store.CreateContact(b.Ctx, contact.NewContact{FirstName: firsts[i%len(firsts)], LastName: lasts[(i/5)%len(lasts)],
			Email: fmt.Sprintf("%s.%d@example.com", []string{"james", "jamie", "smith"}[i%3], i), Company: []string{"James & Co", "Smith Bros"}[i%2],
			Tags: tags}); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{"james", "jame", "smith", "james smith", "jmaes smiht", "smith james", "jam"} {
		for _, tags := range [][]string{nil, {"vip"}} {
			f := contact.Filter{Q: q, Tags: tags}
			relevance := contact.Sort{Key: "relevance", Desc: true}
			// The whole ranking, page after page (later pages read every candidate).
			var all []uuid.UUID
			var allScores []float64
			page := contact.Page{Sort: relevance, Limit: 7}
			for {
				l, err := b.store.ListContacts(b.Ctx, f, page)
				if err != nil {
					t.Fatal(err)
				}
				for i, c := range l.Contacts {
					all = append(all, c.ID)
					allScores = append(allScores, l.Scores[i])
				}
				if l.Next == nil {
					break
				}
				page.After = l.Next
			}
			for _, n := range []int{1, 5, 30, 200} {
				l, err := b.store.ListContacts(b.Ctx, f, contact.Page{Sort: relevance, Limit: n})
				if err != nil {
					t.Fatal(err)
				}
				var got []uuid.UUID
				for _, c := range l.Contacts {
					got = append(got, c.ID)
				}
				want := all[:min(n, len(all))]
				if !slices.Equal(got, want) || !slices.Equal(l.Scores, allScores[:len(want)]) {
					t.Errorf("q=%q tags=%v limit %d: first page %v %v, want %v %v", q, tags, n, got, l.Scores, want, allScores[:len(want)])
				}
				if (l.Next != nil) != (len(all) > n) {
					t.Errorf("q=%q tags=%v limit %d: next %v with %d in all", q, tags, n, l.Next, len(all))
				}
			}
		}
	}
}
