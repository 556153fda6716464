package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// tagsOf reads a contact's tags through the API.
func (b *testBundle) tagsOf(t testing.TB, id uuid.UUID) []string {
	t.Helper()
	return b.getContact(t, id).Tags
}

func TestContactTags(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.createContact(t, body{"firstName": "Ada", "tags": []string{" VIP ", "vip", "Customer"}})
	if want := []string{"Customer", "VIP"}; !slices.Equal(c.Tags, want) {
		t.Fatalf("created with tags %q, want %q", c.Tags, want)
	}
	// Another contact uses the tag in another spelling: the first spelling stays.
	d := b.createContact(t, body{"firstName": "Bob", "tags": []string{"vip"}})
	if want := []string{"VIP"}; !slices.Equal(d.Tags, want) {
		t.Errorf("second contact's tags %q, want %q", d.Tags, want)
	}

	rec := b.do(t, http.MethodPost, "/api/contacts/"+c.ID.String()+"/tags", body{"tags": []string{"partner", "customer"}})
	wantStatus(t, rec, http.StatusOK)
	if got, want := decode[struct{ Tags []string }](t, rec).Tags, []string{"Customer", "partner", "VIP"}; !slices.Equal(got, want) {
		t.Errorf("after adding: %q, want %q", got, want)
	}
	rec = b.do(t, http.MethodDelete, "/api/contacts/"+c.ID.String()+"/tags/CUSTOMER", nil)
	wantStatus(t, rec, http.StatusOK)
	wantProblem(t, b.do(t, http.MethodDelete, "/api/contacts/"+c.ID.String()+"/tags/customer", nil), http.StatusNotFound)

	// PUT and PATCH replace the set; a field-only update keeps it.
	rec = b.do(t, http.MethodPatch, "/api/contacts/"+c.ID.String(), body{"tags": []string{"Lead"}})
	wantStatus(t, rec, http.StatusOK)
	if got := decode[contactOut](t, rec).Tags; !slices.Equal(got, []string{"Lead"}) {
		t.Errorf("after PATCH: %q", got)
	}
	rec = b.do(t, http.MethodPut, "/api/contacts/"+c.ID.String(), body{"title": "CTO"})
	wantStatus(t, rec, http.StatusOK)
	if got := decode[contactOut](t, rec).Tags; !slices.Equal(got, []string{"Lead"}) {
		t.Errorf("after a field update: %q", got)
	}
	rec = b.do(t, http.MethodPut, "/api/contacts/"+c.ID.String(), body{"tags": nil})
	wantStatus(t, rec, http.StatusOK)
	if got := decode[contactOut](t, rec).Tags; len(got) != 0 {
		t.Errorf("after tags: null: %q", got)
	}

	// Every change is audited with the tags before and after.
	if n := b.count(t, "audit_log", "contact_id = $1 AND action = 'tags'", c.ID); n != 5 {
		t.Errorf("%d tag audit entries, want 5 (create, add, remove, patch, clear)", n)
	}
}

func TestTagValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.createContact(t, body{"firstName": "Ada"})
	tests := []struct {
		name, method, path string
		body               any
		status             int
		fields             []string
	}{
		{"empty tag on create", http.MethodPost, "/api/contacts", body{"firstName": "X", "tags": []string{"ok", " "}}, 422, []string{"tags[1]"}},
		{"tags not strings", http.MethodPost, "/api/contacts", body{"firstName": "X", "tags": []int{1}}, 422, []string{"tags"}},
		{"too long, with another bad field", http.MethodPost, "/api/contacts", body{"email": "nope", "tags": []string{strings.Repeat("é", 101)}}, 422, []string{"email", "tags[0]"}},
		{"control characters", http.MethodPatch, "/api/contacts/" + c.ID.String(), body{"tags": []string{"a\tb"}}, 422, []string{"tags[0]"}},
		{"add nothing", http.MethodPost, "/api/contacts/" + c.ID.String() + "/tags", body{"tags": []string{}}, 422, []string{"tags"}},
		{"add unknown field", http.MethodPost, "/api/contacts/" + c.ID.String() + "/tags", body{"tags": []string{"a"}, "x": 1}, 400, []string{"x"}},
		{"add to unknown contact", http.MethodPost, "/api/contacts/" + uuid.NewString() + "/tags", body{"tags": []string{"a"}}, 404, nil},
		{"rename without name", http.MethodPatch, "/api/tags/a", body{}, 422, []string{"name"}},
		{"rename unknown tag", http.MethodPatch, "/api/tags/nosuch", body{"name": "b"}, 404, nil},
		{"bulk without selection", http.MethodPost, "/api/contacts/tags", body{"add": []string{"a"}}, 422, []string{"contactIds"}},
		{"bulk with unknown filter", http.MethodPost, "/api/contacts/tags", body{"filter": body{"colour": "red"}, "add": []string{"a"}}, 400, []string{"filter.colour"}},
		{"bulk with invalid filter", http.MethodPost, "/api/contacts/tags", body{"filter": body{"hasEmail": "maybe"}, "add": []string{"a"}}, 422, []string{"filter.hasEmail"}},
		{"bulk with unknown contact", http.MethodPost, "/api/contacts/tags", body{"contactIds": []uuid.UUID{c.ID, uuid.New()}, "add": []string{"a"}}, 422, []string{"contactIds[1]"}},
		{"bulk with nothing to do", http.MethodPost, "/api/contacts/tags", body{"contactIds": []uuid.UUID{c.ID}}, 422, []string{"add"}},
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
	if n := b.count(t, "tags", "true"); n != 0 {
		t.Errorf("%d tags written by refused requests", n)
	}
}

func TestTagRenameAndDelete(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.createContact(t, body{"firstName": "A", "tags": []string{"Customer", "vip"}})
	c := b.createContact(t, body{"firstName": "C", "tags": []string{"client"}})
	d := b.createContact(t, body{"firstName": "D", "tags": []string{"Client", "customer"}})
	listTags := func() []struct {
		Name  string
		Count int64
	} {
		rec := b.do(t, http.MethodGet, "/api/tags", nil, as(b.reader))
		wantStatus(t, rec, http.StatusOK)
		return decode[page[struct {
			Name  string
			Count int64
		}]](t, rec).Data
	}
	if got := listTags(); len(got) != 3 || got[0].Name != "client" || got[0].Count != 2 || got[1].Name != "Customer" || got[1].Count != 2 {
		t.Fatalf("tags %+v", got)
	}

	// Renaming client to CUSTOMER merges it into Customer: D had both and keeps one.
	rec := b.do(t, http.MethodPatch, "/api/tags/CLIENT", body{"name": "CUSTOMER"})
	wantStatus(t, rec, http.StatusOK)
	if got := decode[struct {
		Name  string
		Count int64
	}](t, rec); got.Name != "Customer" || got.Count != 3 {
		t.Errorf("merged tag %+v, want Customer with 3", got)
	}
	for _, id := range []uuid.UUID{a.ID, c.ID, d.ID} {
		if tags := b.tagsOf(t, id); !slices.Contains(tags, "Customer") || slices.Contains(tags, "client") {
			t.Errorf("contact %s has %q after the merge of tags", id, tags)
		}
	}
	// A rename to a new name, then to another spelling of it.
	wantStatus(t, b.do(t, http.MethodPatch, "/api/tags/vip", body{"name": "Gold"}), http.StatusOK)
	wantStatus(t, b.do(t, http.MethodPatch, "/api/tags/gold", body{"name": "GOLD"}), http.StatusOK)
	if tags := b.tagsOf(t, a.ID); !slices.Equal(tags, []string{"Customer", "GOLD"}) {
		t.Errorf("after renames: %q", tags)
	}
	if n := b.count(t, "audit_log", "contact_id = $1 AND action = 'tags'", c.ID); n != 2 {
		t.Errorf("C has %d tag audit entries, want 2 (create, rename)", n)
	}

	wantStatus(t, b.do(t, http.MethodDelete, "/api/tags/customer", nil), http.StatusNoContent)
	if tags := b.tagsOf(t, d.ID); len(tags) != 0 {
		t.Errorf("D keeps %q after the tag is deleted", tags)
	}
	if got := listTags(); len(got) != 1 || got[0].Name != "GOLD" {
		t.Errorf("tags after delete %+v", got)
	}
	wantProblem(t, b.do(t, http.MethodDelete, "/api/tags/customer", nil), http.StatusNotFound)
}

func TestBulkTags(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.createContact(t, body{"firstName": "A", "company": "Acme", "tags": []string{"old"}})
	c := b.createContact(t, body{"firstName": "C", "company": "Acme"})
	d := b.createContact(t, body{"firstName": "D", "company": "Globex", "tags": []string{"old"}})

	rec := b.do(t, http.MethodPost, "/api/contacts/tags", body{"filter": body{"company": "acme"}, "add": []string{"Q3"}, "remove": []string{"OLD"}})
	wantStatus(t, rec, http.StatusOK)
	if got := decode[struct{ Matched, Changed int }](t, rec); got.Matched != 2 || got.Changed != 2 {
		t.Errorf("bulk by filter: %+v, want 2 matched, 2 changed", got)
	}
	for id, want := range map[uuid.UUID][]string{a.ID: {"Q3"}, c.ID: {"Q3"}, d.ID: {"old"}} {
		if got := b.tagsOf(t, id); !slices.Equal(got, want) {
			t.Errorf("%s has %q, want %q", id, got, want)
		}
	}
	// By ids, with a filter on tags of the result.
	rec = b.do(t, http.MethodPost, "/api/contacts/tags", body{"contactIds": []uuid.UUID{c.ID, d.ID}, "add": []string{"q3"}})
	wantStatus(t, rec, http.StatusOK)
	if got := decode[struct{ Matched, Changed int }](t, rec); got.Matched != 2 || got.Changed != 1 {
		t.Errorf("bulk by ids: %+v, want 2 matched, 1 changed", got)
	}
	if got := b.listIDs(t, "?tag=Q3&tag=old"); !slices.Equal(got, []uuid.UUID{d.ID}) {
		t.Errorf("tag=Q3&tag=old lists %v, want D", got)
	}
}

// TestMergeTags merges contacts with overlapping tags: the survivor gets the union, the merged
// contact none; undo gives each its own tags back.
func TestMergeTags(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.createContact(t, body{"firstName": "Ann", "tags": []string{"x", "Y"}})
	c := b.createContact(t, body{"firstName": "Anne", "tags": []string{"y", "z"}})
	rec := b.do(t, http.MethodPost, "/api/contacts/merge", body{"contactIds": []uuid.UUID{a.ID, c.ID}})
	wantStatus(t, rec, http.StatusOK)
	m := decode[struct {
		Merge mergeOut `json:"merge"`
	}](t, rec).Merge
	if got := b.tagsOf(t, a.ID); !slices.Equal(got, []string{"x", "Y", "z"}) {
		t.Errorf("survivor's tags %q, want x Y z", got)
	}
	if n := b.count(t, "contact_tags", "contact_id = $1", c.ID); n != 0 {
		t.Errorf("merged contact keeps %d tags", n)
	}
	wantStatus(t, b.do(t, http.MethodPost, "/api/merges/"+m.ID.String()+"/undo", nil), http.StatusOK)
	if got := b.tagsOf(t, a.ID); !slices.Equal(got, []string{"x", "Y"}) {
		t.Errorf("survivor's tags after undo %q, want x Y", got)
	}
	if got := b.tagsOf(t, c.ID); !slices.Equal(got, []string{"Y", "z"}) {
		t.Errorf("merged contact's tags after undo %q, want Y z", got)
	}
}
