package api_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestSearch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	john := b.createContact(t, body{"firstName": "John", "lastName": "Smith", "email": "jsmith@example.com", "company": "Acme"})
	grace := b.createContact(t, body{"firstName": "Grace", "lastName": "Hopper", "email": "grace.hopper@navy.mil", "title": "Rear Admiral"})
	phone := b.createContact(t, body{"firstName": "Ada", "lastName": "Lovelace", "phone": "(415) 555-2671", "tags": []string{"Analytical"}})
	b.createContact(t, body{"firstName": "Joan", "lastName": "Baez", "company": "Folk Records"})
	b.createContact(t, body{"firstName": "John", "lastName": "Doe", "company": "Globex", "title": "Engineer"})
	joan := b.createContact(t, body{"firstName": "Joan", "lastName": "Jett", "company": "Globex", "title": "Singer"})

	tests := []struct {
		q     string
		extra url.Values
		first uuid.UUID
	}{
		{"jon smiht", nil, john.ID},
		{"grace.hop", nil, grace.ID},
		{"5552671", nil, phone.ID},
		{"(415) 555-2671", nil, phone.ID},
		{"analytcal", nil, phone.ID},
		{"admiral", nil, grace.ID},
		{"smith", url.Values{"company": {"acme"}}, john.ID},
		// A name and a word of the company or the title, in either order, typos forgiven.
		{"john acme", nil, john.ID},
		{"acme jhon", nil, john.ID},
		{"joan singer", nil, joan.ID},
		{"jett globex", nil, joan.ID},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			t.Parallel()
			q := url.Values{"q": {tt.q}}
			for k, v := range tt.extra {
				q[k] = v
			}
			rec := b.do(t, http.MethodGet, "/api/contacts?"+q.Encode(), nil, as(b.reader))
			wantStatus(t, rec, http.StatusOK)
			got := decode[page[contactOut]](t, rec).Data
			if len(got) == 0 || got[0].ID != tt.first {
				t.Fatalf("q=%q: %d results, first %v; want %v first", tt.q, len(got), got, tt.first)
			}
			for i, c := range got {
				if c.Score == nil || *c.Score <= 0 || *c.Score > 1 || (i > 0 && *c.Score > *got[i-1].Score) {
					t.Errorf("q=%q: result %d has score %v, not in (0, 1] and descending", tt.q, i, deref(c.Score))
				}
			}
		})
	}
	t.Run("a filter narrows a search", func(t *testing.T) {
		t.Parallel()
		if got := b.listIDs(t, "?q=smith&company=globex"); len(got) != 0 {
			t.Errorf("q=smith&company=globex lists %v", got)
		}
	})
	t.Run("unrelated text finds nothing", func(t *testing.T) {
		t.Parallel()
		if got := b.listIDs(t, "?q=zzzqqqxxx"); len(got) != 0 {
			t.Errorf("lists %v", got)
		}
	})
	t.Run("a list without q has no scores", func(t *testing.T) {
		t.Parallel()
		rec := b.do(t, http.MethodGet, "/api/contacts", nil)
		for _, c := range decode[page[contactOut]](t, rec).Data {
			if c.Score != nil {
				t.Fatalf("score %v without q", *c.Score)
			}
		}
	})
}

func TestListNewFilters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.createContact(t, body{"firstName": "A", "email": "a@Acme.com", "tags": []string{"vip", "eu"}})
	c := b.createContact(t, body{"firstName": "C", "phone": "+1 415 555 0100", "tags": []string{"vip"}})
	d := b.createContact(t, body{"firstName": "D", "email": "d@globex.com", "phone": "+1 415 555 0101", "tags": []string{"us"}})
	mid := time.Now().UTC()
	time.Sleep(10 * time.Millisecond)
	e := b.createContact(t, body{"firstName": "E", "email": "e@acme.com"})
	tests := []struct {
		query url.Values
		want  []uuid.UUID
	}{
		{url.Values{"tag": {"VIP"}}, []uuid.UUID{a.ID, c.ID}},
		{url.Values{"tag": {"vip", "eu"}}, []uuid.UUID{a.ID}},
		{url.Values{"anyTag": {"eu", "us"}}, []uuid.UUID{a.ID, d.ID}},
		{url.Values{"anyTag": {"eu", "us"}, "tag": {"vip"}}, []uuid.UUID{a.ID}},
		{url.Values{"emailDomain": {"ACME.com"}}, []uuid.UUID{a.ID, e.ID}},
		{url.Values{"hasEmail": {"false"}}, []uuid.UUID{c.ID}},
		{url.Values{"hasPhone": {"true"}, "hasEmail": {"true"}}, []uuid.UUID{d.ID}},
		{url.Values{"createdAfter": {mid.Format(time.RFC3339Nano)}}, []uuid.UUID{e.ID}},
		{url.Values{"createdBefore": {mid.Format(time.RFC3339Nano)}, "hasPhone": {"true"}}, []uuid.UUID{c.ID, d.ID}},
		{url.Values{"updatedAfter": {"2000-01-01"}, "emailDomain": {"globex.com"}}, []uuid.UUID{d.ID}},
		{url.Values{"updatedBefore": {"2000-01-01"}}, nil},
		{url.Values{"q": {"acme"}, "tag": {"vip"}}, []uuid.UUID{a.ID}},
	}
	for _, tt := range tests {
		t.Run(tt.query.Encode(), func(t *testing.T) {
			t.Parallel()
			if got := b.listIDs(t, "?"+tt.query.Encode()); !slices.Equal(got, tt.want) {
				t.Errorf("lists %v, want %v", got, tt.want)
			}
		})
	}
}

func TestListQueryErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		query  string
		status int
		fields []string
	}{
		{"?colour=red&size=9", 400, []string{"colour", "size"}},
		{"?company=a&Tag=x", 400, []string{"Tag"}},
		{"?hasEmail=maybe&createdAfter=yesterday&sort=name", 422, []string{"hasEmail", "createdAfter", "sort"}},
		{"?tag=&anyTag=%20", 422, []string{"tag[0]", "anyTag[0]"}},
		{"?q=a&q=b", 422, []string{"q"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			wantFields(t, wantProblem(t, b.do(t, http.MethodGet, "/api/contacts"+tt.query, nil), tt.status), tt.fields...)
		})
	}
	t.Run("export refuses unknown filters too", func(t *testing.T) {
		t.Parallel()
		wantFields(t, wantProblem(t, b.do(t, http.MethodGet, "/api/contacts/export?colour=red", nil), 400), "colour")
	})
}

// TestListSorts pages through every sort both ways and checks the order and that each page's
// cursor is refused by every other sort.
func TestListSorts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	names := []struct{ last, company string }{{"smith", "Globex"}, {"Adams", "acme"}, {"", "Initech"}, {"baker", ""}, {"Smith", "Acme"}}
	var ids []uuid.UUID
	for _, n := range names {
		in := body{"firstName": "X"}
		if n.last != "" {
			in["lastName"] = n.last
		}
		if n.company != "" {
			in["company"] = n.company
		}
		ids = append(ids, b.createContact(t, in).ID)
	}
	// Touch the second contact so that updatedAt differs from creation order.
	wantStatus(t, b.do(t, http.MethodPatch, "/api/contacts/"+ids[1].String(), body{"title": "CEO"}), http.StatusOK)
	want := map[string][]int{
		"createdAt":  {0, 1, 2, 3, 4},
		"-createdAt": {4, 3, 2, 1, 0},
		"updatedAt":  {0, 2, 3, 4, 1},
		"lastName":   {2, 1, 3, 0, 4},
		"-lastName":  {0, 4, 3, 1, 2},
		"company":    {3, 1, 4, 0, 2},
		"-company":   {2, 0, 1, 4, 3},
	}
	cursors := map[string]string{}
	for sort, order := range want {
		var got []uuid.UUID
		cursor := ""
		for range 10 {
			rec := b.do(t, http.MethodGet, "/api/contacts?limit=2&sort="+url.QueryEscape(sort)+cursor, nil)
			wantStatus(t, rec, http.StatusOK)
			p := decode[page[contactOut]](t, rec)
			for _, c := range p.Data {
				got = append(got, c.ID)
			}
			if p.NextCursor == nil {
				break
			}
			cursors[sort] = *p.NextCursor
			cursor = "&cursor=" + url.QueryEscape(*p.NextCursor)
		}
		var wantIDs []uuid.UUID
		for _, i := range order {
			wantIDs = append(wantIDs, ids[i])
		}
		if !slices.Equal(got, wantIDs) {
			t.Errorf("sort=%s: %v, want %v", sort, got, wantIDs)
		}
	}
	rec := b.do(t, http.MethodGet, "/api/contacts?limit=2", nil)
	cursors[""] = *decode[page[contactOut]](t, rec).NextCursor
	for made, cur := range cursors {
		for _, other := range []string{"", "createdAt", "-createdAt", "lastName", "company"} {
			if other == made {
				continue
			}
			rec := b.do(t, http.MethodGet, "/api/contacts?sort="+url.QueryEscape(other)+"&cursor="+url.QueryEscape(cur), nil)
			wantFields(t, wantProblem(t, rec, http.StatusBadRequest), "cursor")
		}
	}
}

// TestSearchRanksPagesAndFilters checks the search's typo tolerance over every kind of text it
// reads, that names written later (created or renamed) are found, that a search pages by cursor
// in relevance order without losing or repeating a contact, that its cursor is refused by
// another sort, and that it combines with filters and with other sorts.
func TestSearchRanksPagesAndFilters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	john := b.createContact(t, body{"firstName": "John", "lastName": "Smith", "email": "john@acme.com", "company": "Acme", "tags": []string{"vip"}})
	var smiths []uuid.UUID
	for i, first := range []string{"Jon", "Jane", "John", "Joan", "Mary"} {
		in := body{"firstName": first, "lastName": "Smith"}
		if i%2 == 0 {
			in["email"] = strings.ToLower(first) + ".smith@globex.com"
		}
		smiths = append(smiths, b.createContact(t, in).ID)
	}
	smyth := b.createContact(t, body{"firstName": "Jane", "lastName": "Smyth", "phone": "+44 20 7946 0958"}).ID
	grace := b.createContact(t, body{"firstName": "Grace", "lastName": "Hopper", "email": "grace.hopper@navy.mil", "phone": "(415) 555-2671"})
	renamed := b.createContact(t, body{"firstName": "Eve", "lastName": "Adams"})
	wantStatus(t, b.do(t, http.MethodPatch, "/api/contacts/"+renamed.ID.String(), body{"lastName": "Quillfeather"}), http.StatusOK)

	found := []struct {
		q    string
		want uuid.UUID
	}{
		{"jhon smith", john.ID},       // transposition in the first name
		{"john smiht", john.ID},       // transposition in the last name
		{"smith john", john.ID},       // either order
		{"jane smyht", smyth},         // a name only one contact has
		{"grace.hop", grace.ID},       // an email's start
		{"navy", grace.ID},            // an email domain's start
		{"+1 415 555 2671", grace.ID}, // a phone with its country code
		{"5552671", grace.ID},         // its last digits
		{"02079460958", smyth},        // a national number
		{"quilfeather", renamed.ID},   // a name written by a rename
		{"grac", grace.ID},            // a first name being typed
	}
	for _, tt := range found {
		t.Run(tt.q, func(t *testing.T) {
			t.Parallel()
			got := b.listIDs(t, "?limit=3&q="+url.QueryEscape(tt.q))
			if !slices.Contains(got, tt.want) {
				t.Errorf("q=%q: top 3 %v, want %v among them", tt.q, got, tt.want)
			}
		})
	}

	t.Run("pages in relevance order", func(t *testing.T) {
		t.Parallel()
		all := decode[page[contactOut]](t, b.do(t, http.MethodGet, "/api/contacts?limit=100&q=smith", nil)).Data
		if len(all) < 7 {
			t.Fatalf("q=smith finds %d contacts, want the 6 Smiths and the Smyth", len(all))
		}
		var paged []contactOut
		cursor := ""
		for range 20 {
			rec := b.do(t, http.MethodGet, "/api/contacts?limit=2&q=smith"+cursor, nil)
			wantStatus(t, rec, http.StatusOK)
			p := decode[page[contactOut]](t, rec)
			paged = append(paged, p.Data...)
			if p.NextCursor == nil {
				break
			}
			cursor = "&cursor=" + url.QueryEscape(*p.NextCursor)
			rec = b.do(t, http.MethodGet, "/api/contacts?limit=2&q=smith&sort=lastName&cursor="+url.QueryEscape(*p.NextCursor), nil)
			wantFields(t, wantProblem(t, rec, http.StatusBadRequest), "cursor")
		}
		if len(paged) != len(all) {
			t.Fatalf("pages of 2 list %d contacts, one page %d", len(paged), len(all))
		}
		for i := range all {
			if paged[i].ID != all[i].ID || *paged[i].Score != *all[i].Score {
				t.Errorf("position %d: paged %v (%v), one page %v (%v)", i, paged[i].ID, *paged[i].Score, all[i].ID, *all[i].Score)
			}
			if i > 0 && *all[i].Score > *all[i-1].Score {
				t.Errorf("position %d: score %v after %v", i, *all[i].Score, *all[i-1].Score)
			}
		}
		if *all[0].Score != 1 || *all[len(all)-1].Score >= 1 {
			t.Errorf("scores %v .. %v: exact names score 1, the Smyth less", *all[0].Score, *all[len(all)-1].Score)
		}
	})

	filtered := []struct {
		query string
		want  []uuid.UUID
	}{
		{"q=smith&tag=vip", []uuid.UUID{john.ID}},
		{"q=smith&company=acme", []uuid.UUID{john.ID}},
		{"q=smith&emailDomain=globex.com", []uuid.UUID{smiths[0], smiths[2], smiths[4]}},
		{"q=smith&hasEmail=false&sort=createdAt", []uuid.UUID{smiths[1], smiths[3], smyth}},
		{"q=jane+smith&hasPhone=true", []uuid.UUID{smyth}},
		{"q=smith&status=archived", nil},
	}
	for _, tt := range filtered {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			got := b.listIDs(t, "?"+tt.query)
			slices.SortFunc(got, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
			want := slices.Clone(tt.want)
			slices.SortFunc(want, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
			if !slices.Equal(got, want) {
				t.Errorf("lists %v, want %v", got, want)
			}
		})
	}

	t.Run("sorted by last name, paged", func(t *testing.T) {
		t.Parallel()
		var got []string
		cursor := ""
		for range 20 {
			rec := b.do(t, http.MethodGet, "/api/contacts?limit=3&q=smith&sort=-lastName"+cursor, nil)
			wantStatus(t, rec, http.StatusOK)
			p := decode[page[contactOut]](t, rec)
			for _, c := range p.Data {
				if c.Score == nil {
					t.Fatal("a search sorted by last name has no scores")
				}
				got = append(got, *c.LastName)
			}
			if p.NextCursor == nil {
				break
			}
			cursor = "&cursor=" + url.QueryEscape(*p.NextCursor)
		}
		if len(got) != 7 || got[0] != "Smyth" || !slices.IsSortedFunc(got, func(a, b string) int { return strings.Compare(b, a) }) {
			t.Errorf("q=smith&sort=-lastName lists %v", got)
		}
	})
}
