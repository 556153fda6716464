package api_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/contactd/contactd/contact"
	"github.com/google/uuid"
)

// listIDs lists contacts with a query and returns their ids.
func (b *testBundle) listIDs(t testing.TB, query string) []uuid.UUID {
	t.Helper()
	rec := b.do(t, http.MethodGet, "/api/contacts"+query, nil, as(b.reader))
	wantStatus(t, rec, http.StatusOK)
	var ids []uuid.UUID
	for _, c := range decode[page[contactOut]](t, rec).Data {
		ids = append(ids, c.ID)
	}
	return ids
}

func TestListContactsFilters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acme, globex := b.createAccount(t, "Acme"), b.createAccount(t, "Globex")
	owner := b.createUser(t, "Owner")
	c1 := b.createContact(t, body{"firstName": "One", "company": "Acme Corp",
		"relationships": []body{{"type": "account", "entityId": acme, "role": "Buyer"}}})
	c2 := b.createContact(t, body{"firstName": "Two", "company": "ACME CORP",
		"relationships": []body{{"type": "user", "entityId": owner, "role": "champion"}}})
	c3 := b.createContact(t, body{"firstName": "Three", "company": "Globex",
		"relationships": []body{{"type": "account", "entityId": globex, "role": "buyer"}, {"type": "user", "entityId": owner}}})
	c4 := b.createContact(t, body{"firstName": "Four", "company": "acme corp",
		"relationships": []body{{"type": "account", "entityId": acme, "role": "champion"}}})
	wantStatus(t, b.do(t, http.MethodDelete, "/api/contacts/"+c4.ID.String(), nil), http.StatusNoContent)
	// A removed relationship no longer matches.
	c5 := b.createContact(t, body{"firstName": "Five", "relationships": []body{{"type": "account", "entityId": acme, "role": "buyer"}}})
	rel := c5.Relationships[0].ID
	wantStatus(t, b.do(t, http.MethodDelete, "/api/contacts/"+c5.ID.String()+"/relationships/"+rel.String(), nil), http.StatusNoContent)

	tests := []struct {
		name  string
		query url.Values
		want  []uuid.UUID
	}{
		{"no filter lists active contacts in creation order", nil, []uuid.UUID{c1.ID, c2.ID, c3.ID, c5.ID}},
		{"company is case-insensitive", url.Values{"company": {"acme corp"}}, []uuid.UUID{c1.ID, c2.ID}},
		{"company with other case", url.Values{"company": {"  ACME Corp "}}, []uuid.UUID{c1.ID, c2.ID}},
		{"company is exact, not a prefix", url.Values{"company": {"Acme"}}, nil},
		{"role matches an account role", url.Values{"role": {"buyer"}}, []uuid.UUID{c1.ID, c3.ID}},
		{"role matches a user relationship type", url.Values{"role": {"CHAMPION"}}, []uuid.UUID{c2.ID}},
		{"role matches the default user type", url.Values{"role": {"associated"}}, []uuid.UUID{c3.ID}},
		{"account", url.Values{"account": {acme.String()}}, []uuid.UUID{c1.ID}},
		{"account and role", url.Values{"account": {globex.String()}, "role": {"buyer"}}, []uuid.UUID{c3.ID}},
		{"company and role", url.Values{"company": {"acme corp"}, "role": {"buyer"}}, []uuid.UUID{c1.ID}},
		{"unknown account", url.Values{"account": {uuid.NewString()}}, nil},
		{"archived", url.Values{"status": {"archived"}}, []uuid.UUID{c4.ID}},
		{"archived with company", url.Values{"status": {"archived"}, "company": {"ACME CORP"}}, []uuid.UUID{c4.ID}},
		{"all", url.Values{"status": {"all"}}, []uuid.UUID{c1.ID, c2.ID, c3.ID, c4.ID, c5.ID}},
		{"merged", url.Values{"status": {"merged"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := ""
			if tt.query != nil {
				q = "?" + tt.query.Encode()
			}
			if got := b.listIDs(t, q); !slices.Equal(got, tt.want) {
				t.Errorf("GET /api/contacts%s = %v, want %v", q, got, tt.want)
			}
		})
	}
}

func TestListContactsInvalidQuery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		query  string
		fields []string
	}{
		{"?limit=0", []string{"limit"}},
		{"?limit=501", []string{"limit"}},
		{"?limit=-1", []string{"limit"}},
		{"?limit=ten", []string{"limit"}},
		{"?cursor=not-a-cursor", []string{"cursor"}},
		{"?cursor=AAAA", []string{"cursor"}},
		{"?status=deleted", []string{"status"}},
		{"?account=acme", []string{"account"}},
		{"?limit=0&cursor=%25&status=x&account=y", []string{"limit", "cursor", "status", "account"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			rec := b.do(t, http.MethodGet, "/api/contacts"+tt.query, nil)
			wantFields(t, wantProblem(t, rec, http.StatusUnprocessableEntity), tt.fields...)
		})
	}
	t.Run("limit bounds that are valid", func(t *testing.T) {
		t.Parallel()
		for _, q := range []string{"?limit=1", "?limit=500"} {
			wantStatus(t, b.do(t, http.MethodGet, "/api/contacts"+q, nil), http.StatusOK)
		}
	})
}

// TestListContactsQueryBytes sends filter values that are not valid text for PostgreSQL: they
// are a 422 naming the parameter, never a 5xx.
func TestListContactsQueryBytes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createContact(t, body{"firstName": "Ada", "company": "Acme"})
	for _, tt := range []struct{ query, field string }{
		{"?company=%00", "company"}, {"?role=a%00b", "role"}, {"?company=%FF%FE", "company"}, {"?role=%C3%28", "role"},
	} {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			rec := b.do(t, http.MethodGet, "/api/contacts"+tt.query, nil)
			wantFields(t, wantProblem(t, rec, http.StatusUnprocessableEntity), tt.field)
		})
	}
}

// TestListContactsPagination walks every page of ~120 contacts at several page sizes and checks
// that it sees each contact exactly once, in order.
func TestListContactsPagination(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var all []uuid.UUID
	for i := range 123 {
		c, err := b.app.Contacts.CreateContact(ctx, contact.NewContact{FirstName: "P", LastName: string(rune('a' + i%26)), Company: "Paged"})
		if err != nil {
			t.Fatalf("CreateContact: %v", err)
		}
		all = append(all, c.ID)
	}
	// Archived contacts in the middle are skipped without leaving a gap.
	for _, id := range []uuid.UUID{all[10], all[50], all[51]} {
		if err := b.app.Contacts.ArchiveContact(ctx, id); err != nil {
			t.Fatalf("ArchiveContact: %v", err)
		}
	}
	active := slices.DeleteFunc(slices.Clone(all), func(id uuid.UUID) bool {
		return id == all[10] || id == all[50] || id == all[51]
	})
	for _, limit := range []string{"1", "7", "50", "120", "500", ""} {
		t.Run("limit="+limit, func(t *testing.T) {
			t.Parallel()
			var seen []uuid.UUID
			q := url.Values{"company": {"paged"}}
			if limit != "" {
				q.Set("limit", limit)
			}
			for pages := 0; ; pages++ {
				if pages > len(all)+1 {
					t.Fatal("pagination does not end")
				}
				rec := b.do(t, http.MethodGet, "/api/contacts?"+q.Encode(), nil)
				wantStatus(t, rec, http.StatusOK)
				p := decode[page[contactOut]](t, rec)
				for _, c := range p.Data {
					seen = append(seen, c.ID)
				}
				if p.NextCursor == nil {
					break
				}
				if len(p.Data) == 0 {
					t.Fatal("an empty page with a next cursor")
				}
				q.Set("cursor", *p.NextCursor)
			}
			if !slices.Equal(seen, active) {
				t.Errorf("walked %d contacts, want the %d active ones in order (no duplicates, no gaps)", len(seen), len(active))
			}
		})
	}
}

func TestListUsersAndAccountsPagination(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var users, accounts []uuid.UUID
	for range 12 {
		users = append(users, b.createUser(t, "U"))
		accounts = append(accounts, b.createAccount(t, "A"))
	}
	for _, tt := range []struct {
		path string
		want []uuid.UUID
	}{{"/api/users", users}, {"/api/accounts", accounts}} {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			var seen []uuid.UUID
			next := tt.path + "?limit=5"
			for next != "" {
				rec := b.do(t, http.MethodGet, next, nil, as(b.reader))
				wantStatus(t, rec, http.StatusOK)
				p := decode[page[entityOut]](t, rec)
				for _, e := range p.Data {
					seen = append(seen, e.ID)
				}
				next = ""
				if p.NextCursor != nil {
					next = tt.path + "?limit=5&cursor=" + url.QueryEscape(*p.NextCursor)
				}
			}
			if !slices.Equal(seen, tt.want) {
				t.Errorf("walked %v, want %v", seen, tt.want)
			}
			for _, q := range []string{"?limit=0", "?limit=501", "?cursor=zzz"} {
				wantProblem(t, b.do(t, http.MethodGet, tt.path+q, nil), http.StatusUnprocessableEntity)
			}
		})
	}
}
