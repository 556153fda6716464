package contact_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/contactd/contactd/contact"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
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
	// Counted names, so that close names weigh differently (and "jmaes smiht" has a guess).
	if _, err := contact.RefreshNameCounts(b.Ctx, b.Pool); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"james", "jame", "smith", "james smith", "jmaes smiht", "smith james", "jam", "jaems smith"} {
		for _, tags := range [][]string{nil, {"vip"}} {
			f := contact.Filter{Q: q, Tags: tags}
			// The whole ranking, page after page (later pages read every candidate).
			all, allScores, _ := wholeRanking(t, b.store, f, 7)
			for _, n := range []int{1, 5, 30, 200} {
				l := firstPageIsPrefix(t, b.store, f, n, all, allScores)
				if (l.Next != nil) != (len(all) > n) {
					t.Errorf("q=%q tags=%v limit %d: next %v with %d in all", q, tags, n, l.Next, len(all))
				}
			}
		}
	}
}

// TestSearchTypoPrior: among names as close to a typo, the commoner ranks first once the name
// counts are refreshed (before, ties go by id); a short name with a letter deleted is found
// though it shares no trigram or first letter with the word ("ee" finds Lee); and a search
// whose words are a rare name one edit from a far commoner one (Jaes Smith, James Smith) puts
// one contact of the commoner name first, its guess, and the exact matches right after; so
// does a one-word search, and a word being typed guesses its likeliest completion.
func TestSearchTypoPrior(t *testing.T) {
	t.Parallel()
	b := setup(t)
	create := func(first, last string, n int) []uuid.UUID {
		var ids []uuid.UUID
		for range n {
			c, err := b.store.CreateContact(b.Ctx, contact.NewContact{FirstName: first, LastName: last})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, c.ID)
		}
		return ids
	}
	word := create("Ann", "Word", 1) // the rarer name, and the first by id
	create("Ann", "Ward", 3)
	lee := create("Michael", "Lee", 1)
	jaes := create("Jaes", "Smith", 1)
	james := create("James", "Smith", 45)
	relevance := contact.Page{Sort: contact.Sort{Key: "relevance", Desc: true}, Limit: 50}
	search := func(q string) *contact.List {
		t.Helper()
		l, err := b.store.ListContacts(b.Ctx, contact.Filter{Q: q}, relevance)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	// Before the counts every close name weighs alike: after the guess (a Ward: names tie, and
	// go by spelling), ties go by id, and Word was created first.
	if l := search("wxrd"); len(l.Contacts) < 2 || l.Contacts[1].ID != word[0] {
		t.Fatalf("wxrd before the counts: want Ann Word second (ties by id), got %v", names(l))
	}
	if _, err := contact.RefreshNameCounts(b.Ctx, b.Pool); err != nil {
		t.Fatal(err)
	}
	if l := search("wxrd"); len(l.Contacts) < 4 || *l.Contacts[1].LastName != "Ward" || *l.Contacts[2].LastName != "Ward" ||
		l.Contacts[3].ID != word[0] || l.Scores[2] <= l.Scores[3] {
		t.Errorf("wxrd: want the three Wards first, scored above Word, got %v %v", names(l), l.Scores)
	}
	for _, q := range []string{"ee", "michael ee", "mchael lee"} {
		if l := search(q); !slices.ContainsFunc(l.Contacts, func(c *contact.Contact) bool { return c.ID == lee[0] }) {
			t.Errorf("%s: Michael Lee not found: %v", q, names(l))
		}
	}
	l := search("jaes smith")
	if len(l.Contacts) < 3 || l.Contacts[0].ID != james[0] || l.Contacts[1].ID != jaes[0] || l.Scores[0] != 1 || l.Scores[1] >= 1 {
		t.Errorf("jaes smith: want the first James Smith (the guess, 1), then Jaes Smith, got %v %v", names(l), l.Scores[:min(3, len(l.Scores))])
	}
	// One word guesses too: the name in its likeliest place (James as a first name).
	if l := search("jaes"); len(l.Contacts) < 2 || l.Contacts[0].ID != james[0] || l.Contacts[1].ID != jaes[0] {
		t.Errorf("jaes: want the first James Smith (the guess), then Jaes Smith, got %v %v", names(l), l.Scores)
	}
	// A word being typed guesses its likeliest completion.
	if l := search("jam"); len(l.Contacts) == 0 || l.Contacts[0].ID != james[0] || l.Scores[0] != 1 {
		t.Errorf("jam: want the first James Smith first, got %v %v", names(l), l.Scores)
	}
	// What was typed is not a guess: the James Smiths all score 1, by id.
	l = search("james smith")
	if len(l.Contacts) < 45 || l.Contacts[0].ID != james[0] || l.Scores[44] != 1 || slices.ContainsFunc(l.Contacts[:45], func(c *contact.Contact) bool { return c.ID == jaes[0] }) {
		t.Errorf("james smith: want the 45 James Smiths first, got %v", names(l))
	}
	// Later pages agree with the first (the guess is the same on every page).
	first, err := b.store.ListContacts(b.Ctx, contact.Filter{Q: "jaes smith"}, contact.Page{Sort: relevance.Sort, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	rest, err := b.store.ListContacts(b.Ctx, contact.Filter{Q: "jaes smith"}, contact.Page{Sort: relevance.Sort, Limit: 1, After: first.Next})
	if err != nil {
		t.Fatal(err)
	}
	if first.Contacts[0].ID != james[0] || len(rest.Contacts) != 1 || rest.Contacts[0].ID != jaes[0] {
		t.Errorf("jaes smith page by page: %v then %v", names(first), names(rest))
	}
}

// names are a list's contacts as "First Last".
func names(l *contact.List) []string {
	var out []string
	for _, c := range l.Contacts {
		f, la := "", ""
		if c.FirstName != nil {
			f = *c.FirstName
		}
		if c.LastName != nil {
			la = *c.LastName
		}
		out = append(out, f+" "+la)
	}
	return out
}

// TestSearchFirstPageReadsNamesBestFirst: a first page read band by band (the exact name, then
// the names one edit away, which tie, then the rest) lists what the whole ranking starts with,
// whether the exact name fills the page or the page needs the names close to it, with a filter
// that leaves few contacts per name.
func TestSearchFirstPageReadsNamesBestFirst(t *testing.T) {
	t.Parallel()
	b := setup(t)
	lasts := []string{"Garcia", "Garcia", "Garcia", "Garcis", "Gracia", "Garcio", "Garciam", "Marcia", "Garza"}
	for i := range 90 {
		var tags []string
		if i%4 == 0 {
			tags = []string{"vip"}
		}
		if _, err := b.store.CreateContact(b.Ctx, contact.NewContact{FirstName: []string{"Ann", "Bo", "Garcia"}[i%3],
			LastName: lasts[i%len(lasts)], Company: []string{"Garcia Ltd", "Acme"}[i%2], Tags: tags}); err != nil {
			t.Fatal(err)
		}
	}
	// Counted names, so that a typo guesses the commoner name (its first contact scores 1).
	if _, err := contact.RefreshNameCounts(b.Ctx, b.Pool); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"garcia", "garcis", "garci", "gracia", "garcai"} {
		for _, tags := range [][]string{nil, {"vip"}} {
			f := contact.Filter{Q: q, Tags: tags}
			all, allScores, pages := wholeRanking(t, b.store, f, 4)
			if pages < 2 {
				t.Fatalf("q=%q tags=%v: %d contacts, want more than a page", q, tags, len(all))
			}
			for _, n := range []int{1, 2, 3, 6, 11, 17, 29, 100} {
				firstPageIsPrefix(t, b.store, f, n, all, allScores)
			}
		}
	}
}

// TestSearchSortedPages: a search in another order than relevance (which reads at most a page
// per name in that order) lists, page after page through its cursors, every contact the search
// finds in that order (ties by id), with the scores relevance gives them, with and without a
// filter.
func TestSearchSortedPages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	firsts := []string{"James", "Jamie", "Ann", "Smith"}
	lasts := []string{"Smith", "Smyth", "James", "Smithers", "Jones", ""}
	for i := range 60 {
		var tags []string
		if i%4 == 0 {
			tags = []string{"vip"}
		}
		if _, err := b.store.CreateContact(b.Ctx, contact.NewContact{FirstName: firsts[i%len(firsts)], LastName: lasts[(i/4)%len(lasts)],
			Email: fmt.Sprintf("%s.%d@example.com", []string{"james", "ann", "smith", "c", "c"}[i%5], i), Company: []string{"Smith Bros", "Acme", "", "Acme", ""}[i%5],
			Tags: tags}); err != nil {
			t.Fatal(err)
		}
	}
	// Some contacts change, so that updatedAt is not creation order.
	l, err := b.store.ListContacts(b.Ctx, contact.Filter{}, contact.Page{Limit: 60})
	if err != nil {
		t.Fatal(err)
	}
	for i := len(l.Contacts) - 1; i >= 0; i -= 7 {
		if _, err := b.Pool.Exec(b.Ctx, `UPDATE contacts SET updated_at = now() + $2 * interval '1 second' WHERE id = $1`, l.Contacts[i].ID, 60-i); err != nil {
			t.Fatal(err)
		}
	}
	keys := map[string]string{"createdAt": "created_at", "updatedAt": "updated_at", "lastName": "coalesce(lower(last_name), '')", "company": "coalesce(lower(company), '')"}
	for _, q := range []string{"smith", "smiht", "jam", "james smith", "acme"} {
		for _, tags := range [][]string{nil, {"vip"}} {
			f := contact.Filter{Q: q, Tags: tags}
			// Every contact the search finds, with its score (relevance, read to its end).
			scores := map[uuid.UUID]float64{}
			var ids []uuid.UUID
			page := contact.Page{Sort: contact.Sort{Key: "relevance", Desc: true}, Limit: 100}
			for {
				l, err := b.store.ListContacts(b.Ctx, f, page)
				if err != nil {
					t.Fatal(err)
				}
				for i, c := range l.Contacts {
					scores[c.ID] = l.Scores[i]
					ids = append(ids, c.ID)
				}
				if l.Next == nil {
					break
				}
				page.After = l.Next
			}
			if len(ids) < 5 {
				t.Fatalf("q=%q tags=%v: %d contacts, want more pages", q, tags, len(ids))
			}
			for key, expr := range keys {
				for _, desc := range []bool{false, true} {
					dir := ""
					if desc {
						dir = " DESC"
					}
					rows, err := b.Pool.Query(b.Ctx, `SELECT id FROM contacts WHERE id = ANY($1) ORDER BY `+expr+dir+`, id`, ids)
					if err != nil {
						t.Fatal(err)
					}
					want, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
					if err != nil {
						t.Fatal(err)
					}
					sort := contact.Sort{Key: key, Desc: desc}
					got := walkPages(t, b.store, f, contact.Page{Sort: sort, Limit: 4}, scores, len(want))
					if !slices.Equal(got, want) {
						t.Errorf("q=%q tags=%v sort=%s: pages list %v, want %v", q, tags, sort, got, want)
					}
				}
			}
		}
	}
}

// walkPages lists f's contacts page by page from page (its sort and size) by cursor, checking
// each one's score against scores (relevance's), and stops after the last page or once it has
// more than max contacts.
func walkPages(t *testing.T, store *contact.Store, f contact.Filter, page contact.Page, scores map[uuid.UUID]float64, max int) []uuid.UUID {
	t.Helper()
	var got []uuid.UUID
	for {
		l, err := store.ListContacts(context.Background(), f, page)
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range l.Contacts {
			got = append(got, c.ID)
			if l.Scores[i] != scores[c.ID] {
				t.Errorf("q=%q tags=%v sort=%s: %s scores %v, relevance gave %v", f.Q, f.Tags, page.Sort, c.ID, l.Scores[i], scores[c.ID])
			}
		}
		if l.Next == nil || len(got) > max {
			return got
		}
		page.After = l.Next
	}
}

// wholeRanking lists a search in relevance order to its end, limit contacts a page, and
// returns the contacts, their scores and how many pages it took.
func wholeRanking(t *testing.T, store *contact.Store, f contact.Filter, limit int) ([]uuid.UUID, []float64, int) {
	t.Helper()
	var ids []uuid.UUID
	var scores []float64
	page := contact.Page{Sort: contact.Sort{Key: "relevance", Desc: true}, Limit: limit}
	for pages := 1; ; pages++ {
		l, err := store.ListContacts(context.Background(), f, page)
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range l.Contacts {
			ids = append(ids, c.ID)
			scores = append(scores, l.Scores[i])
		}
		if l.Next == nil {
			return ids, scores, pages
		}
		page.After = l.Next
	}
}

// firstPageIsPrefix checks that the first page of n contacts of a search in relevance order
// lists what its whole ranking (all, with scores) starts with, scores included, and returns it.
func firstPageIsPrefix(t *testing.T, store *contact.Store, f contact.Filter, n int, all []uuid.UUID, scores []float64) *contact.List {
	t.Helper()
	l, err := store.ListContacts(context.Background(), f, contact.Page{Sort: contact.Sort{Key: "relevance", Desc: true}, Limit: n})
	if err != nil {
		t.Fatal(err)
	}
	var got []uuid.UUID
	for _, c := range l.Contacts {
		got = append(got, c.ID)
	}
	want := all[:min(n, len(all))]
	if !slices.Equal(got, want) || !slices.Equal(l.Scores, scores[:len(want)]) {
		t.Errorf("q=%q tags=%v limit %d: first page %v %v, want %v %v", f.Q, f.Tags, n, got, l.Scores, want, scores[:len(want)])
	}
	return l
}

// TestSearchWalks: a page of a common company or title word walks the contacts in the page's
// order instead of reading all of the word's (orgWalk), and so do a sorted page's row branches
// (sortedRows); the pages list what the whole ranking does: for a word or prefix spread over the
// contacts (the walk finds a page) and for one whose contacts all come last (the walk gives up
// and the page reads them through the index), in relevance order and in the sorted orders.
func TestSearchWalks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	lasts := []string{"Young", "Brown", "Adams", "Zhou", "Miller"}
	for i := range 200 {
		company, title, last := "Initech Ltd", "Clerk", lasts[i%len(lasts)]
		email := fmt.Sprintf("%s%d@example.com", []string{"acme", "pat", "initech"}[i%3], i)
		if i == 0 || (i >= 120 && i < 160 && i%5 == 0) {
			email = fmt.Sprintf("quux%d@example.com", i)
		}
		switch {
		case i >= 160:
			company, last, email = "Globex Corp", "Zzyzx", fmt.Sprintf("zorro%d@example.com", i)
		case i%2 == 0:
			company = "Acme Widgets"
		case i%3 == 0:
			title = "Acme Liaison"
		}
		if _, err := b.store.CreateContact(b.Ctx, contact.NewContact{FirstName: fmt.Sprintf("Pat%d", i%7), LastName: last,
			Company: company, Title: title, Email: email}); err != nil {
			t.Fatal(err)
		}
	}
	// The walk weighs a word's count (refreshed with the names') against the contacts' (ANALYZE).
	if _, err := contact.RefreshNameCounts(b.Ctx, b.Pool); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Pool.Exec(b.Ctx, `ANALYZE contacts`); err != nil {
		t.Fatal(err)
	}
	// "zorro" starts only the emails of the last contacts, "initech" those of a third of them,
	// "quux" nine, one of them among the first a sorted page walks (which walks on).
	for _, q := range []string{"acme", "globex", "initech", "clerk", "pat", "zorro", "quux"} {
		f := contact.Filter{Q: q}
		// The whole ranking: a first page of one, then the later pages, which rank every candidate.
		all, allScores, _ := wholeRanking(t, b.store, f, 1)
		if len(all) < 3 {
			t.Fatalf("q=%q: %d contacts, want more than a page of 2", q, len(all))
		}
		for _, n := range []int{2, 5, 30} {
			firstPageIsPrefix(t, b.store, f, n, all, allScores)
		}
		scores := map[uuid.UUID]float64{}
		for i, id := range all {
			scores[id] = allScores[i]
		}
		for _, key := range []string{"lastName", "createdAt"} {
			rows, err := b.Pool.Query(b.Ctx, `SELECT id FROM contacts WHERE id = ANY($1) ORDER BY `+
				map[string]string{"lastName": "coalesce(lower(last_name), '')", "createdAt": "created_at"}[key]+`, id`, all)
			if err != nil {
				t.Fatal(err)
			}
			want, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
			if err != nil {
				t.Fatal(err)
			}
			// Pages of 2: a row branch walks 40 pages (120 contacts) of the 200.
			got := walkPages(t, b.store, f, contact.Page{Sort: contact.Sort{Key: key}, Limit: 2}, scores, len(want))
			if !slices.Equal(got, want) {
				t.Errorf("q=%q sort=%s: pages list %v, want %v", q, key, got, want)
			}
		}
	}
}

// TestSearchRowBranchReadsWhatReachesThePage: a first page full of a company word's contacts
// (0.7) reads, of the companies its word starts, only those short enough to score as much
// (rowBound), and one of them scoring above the page still comes first.
func TestSearchRowBranchReadsWhatReachesThePage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, company := range append(slices.Repeat([]string{"Acme Widgets"}, 12), "Acmex", "Acme Co", "Acmeco") {
		if _, err := b.store.CreateContact(b.Ctx, contact.NewContact{FirstName: "Pat", LastName: "Doe", Company: company}); err != nil {
			t.Fatal(err)
		}
	}
	f := contact.Filter{Q: "acme"}
	all, scores, _ := wholeRanking(t, b.store, f, 3)
	// "Acmex" scores 0.4 + 0.4 * 4/5 = 0.72 as a company the word starts, above the 0.7 of the
	// word "acme" in a company.
	if len(all) != 15 || scores[0] < 0.71 || scores[1] > 0.71 {
		t.Fatalf("ranking %v %v, want Acmex (0.72) first of 15", all, scores)
	}
	for _, n := range []int{1, 5, 12} {
		firstPageIsPrefix(t, b.store, f, n, all, scores)
	}
}
