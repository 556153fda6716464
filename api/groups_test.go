package api_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/google/uuid"
)

type groupOut struct {
	ID     uuid.UUID      `json:"id"`
	Name   string         `json:"name"`
	Kind   string         `json:"kind"`
	Filter map[string]any `json:"filter"`
}

func (b *testBundle) createGroup(t testing.TB, in body) groupOut {
	t.Helper()
	rec := b.do(t, http.MethodPost, "/api/groups", in)
	wantStatus(t, rec, http.StatusCreated)
	return decode[groupOut](t, rec)
}

func TestStaticGroup(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.createContact(t, body{"firstName": "A", "company": "Acme"})
	c := b.createContact(t, body{"firstName": "C", "company": "Globex"})
	d := b.createContact(t, body{"firstName": "D", "company": "Acme"})
	g := b.createGroup(t, body{"name": "Board"})
	if g.Kind != "static" || g.Filter != nil {
		t.Fatalf("group %+v", g)
	}
	gp := "/api/groups/" + g.ID.String()
	rec := b.do(t, http.MethodPost, gp+"/members", body{"contactIds": []uuid.UUID{a.ID, c.ID, a.ID}})
	wantStatus(t, rec, http.StatusOK)
	if got := decode[struct{ Added int }](t, rec).Added; got != 2 {
		t.Errorf("added %d, want 2", got)
	}
	if got := b.listIDs(t, "?group="+g.ID.String()); !slices.Equal(got, []uuid.UUID{a.ID, c.ID}) {
		t.Errorf("group=%s lists %v", g.ID, got)
	}
	if got := b.listIDs(t, "?group="+g.ID.String()+"&company=acme"); !slices.Equal(got, []uuid.UUID{a.ID}) {
		t.Errorf("group and company list %v", got)
	}
	rec = b.do(t, http.MethodGet, gp+"/contacts?limit=1", nil, as(b.reader))
	wantStatus(t, rec, http.StatusOK)
	if p := decode[page[contactOut]](t, rec); len(p.Data) != 1 || p.Data[0].ID != a.ID || p.NextCursor == nil {
		t.Errorf("group contacts page %+v", p)
	}
	wantStatus(t, b.do(t, http.MethodDelete, gp+"/members/"+a.ID.String(), nil), http.StatusNoContent)
	wantProblem(t, b.do(t, http.MethodDelete, gp+"/members/"+a.ID.String(), nil), http.StatusNotFound)
	if got := b.listIDs(t, "?group="+g.ID.String()); !slices.Equal(got, []uuid.UUID{c.ID}) {
		t.Errorf("after removal lists %v", got)
	}
	if n := b.count(t, "audit_log", "contact_id = $1 AND action IN ('group.add', 'group.remove')", a.ID); n != 2 {
		t.Errorf("%d membership audit entries for A, want 2", n)
	}

	// A merge makes the survivor a member; undo reverses it.
	rec = b.do(t, http.MethodPost, "/api/contacts/merge", body{"contactIds": []uuid.UUID{d.ID, c.ID}, "survivorId": d.ID})
	wantStatus(t, rec, http.StatusOK)
	if got := b.listIDs(t, "?group="+g.ID.String()); !slices.Equal(got, []uuid.UUID{d.ID}) {
		t.Errorf("after the merge lists %v, want the survivor", got)
	}

	wantStatus(t, b.do(t, http.MethodDelete, gp, nil), http.StatusNoContent)
	wantProblem(t, b.do(t, http.MethodGet, gp, nil), http.StatusNotFound)
	wantFields(t, wantProblem(t, b.do(t, http.MethodGet, "/api/contacts?group="+g.ID.String(), nil), http.StatusUnprocessableEntity), "group")
}

func TestSmartGroup(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.createContact(t, body{"firstName": "A", "email": "a@acme.com", "tags": []string{"vip"}})
	b.createContact(t, body{"firstName": "C", "email": "c@globex.com", "tags": []string{"vip"}})
	vip := b.createGroup(t, body{"name": "Acme VIPs", "filter": body{"tag": []string{"VIP"}, "emailDomain": "acme.com"}})
	if vip.Kind != "smart" || vip.Filter["emailDomain"] != "acme.com" {
		t.Fatalf("group %+v", vip)
	}
	if got := b.listIDs(t, "?group="+vip.ID.String()); !slices.Equal(got, []uuid.UUID{a.ID}) {
		t.Errorf("smart group lists %v", got)
	}
	// Evaluated live: a contact created later is in it.
	d := b.createContact(t, body{"firstName": "D", "email": "d@acme.com", "phone": "+1 415 555 0100", "tags": []string{"vip"}})
	if got := b.listIDs(t, "?group="+vip.ID.String()); !slices.Equal(got, []uuid.UUID{a.ID, d.ID}) {
		t.Errorf("smart group lists %v after a new contact", got)
	}
	// A smart group may select by another group; a cycle is refused when it is used.
	nested := b.createGroup(t, body{"name": "Nested", "filter": body{"group": vip.ID.String(), "hasPhone": "true"}})
	if got := b.listIDs(t, "?group="+nested.ID.String()); !slices.Equal(got, []uuid.UUID{d.ID}) {
		t.Errorf("nested smart group lists %v", got)
	}
	wantStatus(t, b.do(t, http.MethodPatch, "/api/groups/"+vip.ID.String(), body{"filter": body{"group": nested.ID.String()}}), http.StatusOK)
	wantFields(t, wantProblem(t, b.do(t, http.MethodGet, "/api/contacts?group="+vip.ID.String(), nil), http.StatusUnprocessableEntity), "group")
	// Bulk tagging selects through the same filter.
	wantStatus(t, b.do(t, http.MethodPatch, "/api/groups/"+vip.ID.String(), body{"filter": body{"tag": "vip"}}), http.StatusOK)
	rec := b.do(t, http.MethodPost, "/api/contacts/tags", body{"filter": body{"group": vip.ID.String(), "emailDomain": "acme.com"}, "add": []string{"acme-vip"}})
	wantStatus(t, rec, http.StatusOK)
	if got := b.listIDs(t, "?tag=acme-vip"); !slices.Equal(got, []uuid.UUID{a.ID, d.ID}) {
		t.Errorf("bulk over a smart group tagged %v", got)
	}
}

func TestGroupValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	static := b.createGroup(t, body{"name": "Static"})
	smart := b.createGroup(t, body{"name": "Smart", "filter": body{}})
	c := b.createContact(t, body{"firstName": "C"})
	tests := []struct {
		name, method, path string
		body               any
		status             int
		fields             []string
	}{
		{"no name", http.MethodPost, "/api/groups", body{}, 422, []string{"name"}},
		{"blank name", http.MethodPost, "/api/groups", body{"name": "  "}, 422, []string{"name"}},
		{"taken name", http.MethodPost, "/api/groups", body{"name": "STATIC"}, 409, nil},
		{"unknown filter", http.MethodPost, "/api/groups", body{"name": "x", "filter": body{"colour": "red"}}, 400, []string{"filter.colour"}},
		{"invalid filter", http.MethodPost, "/api/groups", body{"name": "x", "filter": body{"hasPhone": "maybe", "createdAfter": "x"}}, 422, []string{"filter.hasPhone", "filter.createdAfter"}},
		{"filter on a static group", http.MethodPatch, "/api/groups/" + static.ID.String(), body{"filter": body{"tag": "a"}}, 422, []string{"filter"}},
		{"rename to a taken name", http.MethodPatch, "/api/groups/" + static.ID.String(), body{"name": "smart"}, 409, nil},
		{"members of a smart group", http.MethodPost, "/api/groups/" + smart.ID.String() + "/members", body{"contactIds": []uuid.UUID{c.ID}}, 409, nil},
		{"unknown member", http.MethodPost, "/api/groups/" + static.ID.String() + "/members", body{"contactIds": []uuid.UUID{c.ID, uuid.New()}}, 422, []string{"contactIds[1]"}},
		{"no members", http.MethodPost, "/api/groups/" + static.ID.String() + "/members", body{}, 422, []string{"contactIds"}},
		{"unknown group", http.MethodGet, "/api/groups/" + uuid.NewString(), nil, 404, nil},
		{"group on its contacts", http.MethodGet, "/api/groups/" + static.ID.String() + "/contacts?group=" + static.ID.String(), nil, 400, []string{"group"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := wantProblem(t, b.do(t, tt.method, tt.path, tt.body), tt.status)
			if tt.fields != nil {
				wantFields(t, p, tt.fields...)
			}
		})
	}
	if n := b.count(t, "group_members", "true"); n != 0 {
		t.Errorf("%d members written by refused requests", n)
	}
}
