package api_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
)

func TestAddRelationship(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acct := b.createAccount(t, "Acme")
	user := b.createUser(t, "Owner")
	tests := []struct {
		name   string
		rel    body
		status int
		fields []string
	}{
		{"account", body{"entityType": "account", "entityId": acct, "role": "buyer"}, http.StatusCreated, nil},
		{"primary account", body{"entityType": "account", "entityId": acct, "isPrimary": true}, http.StatusCreated, nil},
		{"user with type", body{"type": "user", "entityId": user, "role": "owner"}, http.StatusCreated, nil},
		{"unknown account", body{"entityType": "account", "entityId": uuid.New()}, http.StatusUnprocessableEntity, []string{"entityId"}},
		{"user id as account", body{"entityType": "account", "entityId": user}, http.StatusUnprocessableEntity, []string{"entityId"}},
		{"bad entityId", body{"entityType": "user", "entityId": "x"}, http.StatusUnprocessableEntity, []string{"entityId"}},
		{"no entityId", body{"entityType": "user"}, http.StatusUnprocessableEntity, []string{"entityId"}},
		{"bad type and role", body{"entityType": "team", "entityId": user, "role": 5}, http.StatusUnprocessableEntity, []string{"role"}},
		{"primary user", body{"entityType": "user", "entityId": user, "isPrimary": true}, http.StatusUnprocessableEntity, []string{"isPrimary"}},
		{"isPrimary not a boolean", body{"entityType": "account", "entityId": acct, "isPrimary": "yes"}, http.StatusUnprocessableEntity, []string{"isPrimary"}},
		{"unknown field", body{"entityType": "user", "entityId": user, "weight": 1}, http.StatusBadRequest, []string{"weight"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := b.createContact(t, body{"firstName": tt.name})
			rec := b.do(t, http.MethodPost, "/api/contacts/"+c.ID.String()+"/relationships", tt.rel, as(b.writer))
			if tt.status != http.StatusCreated {
				wantFields(t, wantProblem(t, rec, tt.status), tt.fields...)
				if n := b.count(t, "audit_log", "contact_id = $1 AND entity_type = 'relationship'", c.ID); n != 0 {
					t.Errorf("a refused relationship was audited %d times", n)
				}
				return
			}
			wantStatus(t, rec, http.StatusCreated)
			r := decode[relationshipOut](t, rec)
			if loc := rec.Header().Get("Location"); loc != "/api/contacts/"+c.ID.String()+"/relationships/"+r.ID.String() {
				t.Errorf("Location %q", loc)
			}
			if got := b.getContact(t, c.ID); len(got.Relationships) != 1 || got.Relationships[0].ID != r.ID {
				t.Errorf("contact's relationships %+v, want the new one", got.Relationships)
			}
		})
	}
	t.Run("twice to the same account", func(t *testing.T) {
		t.Parallel()
		c := b.createContact(t, body{"firstName": "Twice"})
		path := "/api/contacts/" + c.ID.String() + "/relationships"
		wantStatus(t, b.do(t, http.MethodPost, path, body{"entityType": "account", "entityId": acct}), http.StatusCreated)
		wantProblem(t, b.do(t, http.MethodPost, path, body{"entityType": "account", "entityId": acct, "role": "other"}), http.StatusConflict)
	})
	t.Run("unknown contact", func(t *testing.T) {
		t.Parallel()
		rec := b.do(t, http.MethodPost, "/api/contacts/"+uuid.NewString()+"/relationships", body{"entityType": "user", "entityId": user})
		wantProblem(t, rec, http.StatusNotFound)
	})
}

// TestPrimaryContact checks that making a contact primary for an account clears the previous
// primary, and that both contacts show it.
func TestPrimaryContact(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acct, other := b.createAccount(t, "Acme"), b.createAccount(t, "Globex")
	first := b.createContact(t, body{"firstName": "First", "relationships": []body{
		{"type": "account", "entityId": acct, "isPrimary": true}, {"type": "account", "entityId": other, "isPrimary": true}}})
	second := b.createContact(t, body{"firstName": "Second"})
	rec := b.do(t, http.MethodPost, "/api/contacts/"+second.ID.String()+"/relationships",
		body{"entityType": "account", "entityId": acct, "role": "cfo", "isPrimary": true})
	wantStatus(t, rec, http.StatusCreated)
	if r := decode[relationshipOut](t, rec); !r.IsPrimary {
		t.Errorf("new relationship %+v is not primary", r)
	}
	primary := func(c contactOut, account uuid.UUID) bool {
		for _, r := range c.Relationships {
			if r.EntityID == account {
				return r.IsPrimary
			}
		}
		t.Fatalf("contact %s has no relationship to %s", c.ID, account)
		return false
	}
	f, s := b.getContact(t, first.ID), b.getContact(t, second.ID)
	if primary(f, acct) || !primary(s, acct) {
		t.Errorf("after the switch: first primary %v, second primary %v; want false, true", primary(f, acct), primary(s, acct))
	}
	if !primary(f, other) {
		t.Error("the first contact lost its primary flag on another account")
	}
	if len(f.Relationships) != 2 {
		t.Errorf("the first contact's relationship to the account ended: %+v", f.Relationships)
	}
	// The change is audited on the contact that lost the flag.
	type entry struct {
		Action  string                    `json:"action"`
		Changes map[string]map[string]any `json:"changes"`
	}
	rec = b.do(t, http.MethodGet, "/api/contacts/"+first.ID.String()+"/audit", nil)
	wantStatus(t, rec, http.StatusOK)
	found := false
	for _, e := range decode[page[entry]](t, rec).Data {
		found = found || (e.Action == "update" && e.Changes["isPrimary"]["after"] == false)
	}
	if !found {
		t.Errorf("no audit entry for the cleared primary flag: %s", rec.Body)
	}
}

// TestPrimaryContactConcurrent makes several contacts primary for one account at once: every
// request must succeed (or conflict), never fail with a 5xx, and one primary must remain.
func TestPrimaryContactConcurrent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acct := b.createAccount(t, "Acme")
	const n = 16
	contacts := make([]contactOut, n)
	for i := range contacts {
		contacts[i] = b.createContact(t, body{"firstName": "C"})
	}
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i, c := range contacts {
		wg.Go(func() {
			rec := b.do(t, http.MethodPost, "/api/contacts/"+c.ID.String()+"/relationships",
				body{"entityType": "account", "entityId": acct, "isPrimary": true})
			codes[i] = rec.Code
		})
	}
	wg.Wait()
	for i, code := range codes {
		if code != http.StatusCreated {
			t.Errorf("request %d answered %d, want 201", i, code)
		}
	}
	if got := b.count(t, "contact_accounts", "account_id = $1 AND is_primary AND removed_at IS NULL", acct); got != 1 {
		t.Errorf("%d current primaries, want 1", got)
	}
}

func TestRelationshipHistory(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acct := b.createAccount(t, "Acme")
	user := b.createUser(t, "Owner")
	c := b.createContact(t, body{"firstName": "Ada", "relationships": []body{
		{"type": "account", "entityId": acct, "isPrimary": true}, {"type": "user", "entityId": user}}})
	base := "/api/contacts/" + c.ID.String() + "/relationships"
	accountRel := c.Relationships[0].ID

	list := func(query string) []relationshipOut {
		rec := b.do(t, http.MethodGet, base+query, nil, as(b.reader))
		wantStatus(t, rec, http.StatusOK)
		return decode[page[relationshipOut]](t, rec).Data
	}
	if got := list(""); len(got) != 2 {
		t.Fatalf("current relationships %+v, want 2", got)
	}
	wantStatus(t, b.do(t, http.MethodDelete, base+"/"+accountRel.String(), nil, as(b.writer)), http.StatusNoContent)
	wantProblem(t, b.do(t, http.MethodDelete, base+"/"+accountRel.String(), nil), http.StatusNotFound)

	current := list("")
	if len(current) != 1 || current[0].EntityType != "user" || current[0].RemovedAt != nil {
		t.Errorf("current relationships after the removal: %+v", current)
	}
	history := list("?history=true")
	if len(history) != 2 {
		t.Fatalf("history %+v, want 2", history)
	}
	for _, r := range history {
		if removed := r.ID == accountRel; removed != (r.RemovedAt != nil) {
			t.Errorf("relationship %s removedAt %v", r.ID, r.RemovedAt)
		}
		if r.ID == accountRel && r.IsPrimary {
			t.Error("a removed relationship is still primary")
		}
	}
	if got := b.getContact(t, c.ID); len(got.Relationships) != 1 {
		t.Errorf("GET contact shows %d relationships, want 1", len(got.Relationships))
	}
	// The account can have a new primary, and the contact can be related to it again.
	wantStatus(t, b.do(t, http.MethodPost, base, body{"entityType": "account", "entityId": acct, "isPrimary": true}), http.StatusCreated)
	if got := list("?history=1"); len(got) != 3 {
		t.Errorf("history after re-adding: %d entries, want 3", len(got))
	}

	for _, tt := range []struct {
		name, method, path string
		status             int
	}{
		{"unknown relationship", http.MethodDelete, base + "/" + uuid.NewString(), http.StatusNotFound},
		{"another contact's relationship", http.MethodDelete, "/api/contacts/" + b.createContact(t, body{"firstName": "B"}).ID.String() + "/relationships/" + c.Relationships[1].ID.String(), http.StatusNotFound},
		{"list for unknown contact", http.MethodGet, "/api/contacts/" + uuid.NewString() + "/relationships", http.StatusNotFound},
		{"bad history flag", http.MethodGet, base + "?history=sometimes", http.StatusUnprocessableEntity},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, b.do(t, tt.method, tt.path, nil), tt.status)
		})
	}
}

// TestUpdateRelationship checks PATCH of a relationship: the old version ends and stays in the
// history, a new version with a new id carries the new role and primary flag, and an account's
// previous primary is cleared as adding a primary clears it.
func TestUpdateRelationship(t *testing.T) {
	t.Parallel()
	b := setup(t)
	user := b.createUser(t, "Owner")
	// fixture is a contact with a plain account relationship (role buyer) to an account whose
	// primary is rival, a primary one (role cto) and two user relationships (owner, watcher).
	type fixture struct {
		contact, rival                              contactOut
		account, own                                uuid.UUID
		accountRel, primaryRel, userRel, watcherRel relationshipOut
		base                                        string
	}
	fix := func(t *testing.T) fixture {
		t.Helper()
		f := fixture{account: b.createAccount(t, "Acme"), own: b.createAccount(t, "Own")}
		f.rival = b.createContact(t, body{"firstName": "Rival", "relationships": []body{{"type": "account", "entityId": f.account, "isPrimary": true}}})
		f.contact = b.createContact(t, body{"firstName": "Ada", "relationships": []body{
			{"type": "account", "entityId": f.account, "role": "buyer"},
			{"type": "account", "entityId": f.own, "role": "cto", "isPrimary": true},
			{"type": "user", "entityId": user, "role": "owner"},
			{"type": "user", "entityId": user, "role": "watcher"},
		}})
		rels := f.contact.Relationships
		f.accountRel, f.primaryRel, f.userRel, f.watcherRel = rels[0], rels[1], rels[2], rels[3]
		f.base = "/api/contacts/" + f.contact.ID.String() + "/relationships"
		return f
	}
	list := func(t *testing.T, f fixture, query string) []relationshipOut {
		t.Helper()
		rec := b.do(t, http.MethodGet, f.base+query, nil, as(b.reader))
		wantStatus(t, rec, http.StatusOK)
		return decode[page[relationshipOut]](t, rec).Data
	}
	find := func(rels []relationshipOut, id uuid.UUID) *relationshipOut {
		for _, r := range rels {
			if r.ID == id {
				return &r
			}
		}
		return nil
	}
	type pick func(f fixture) relationshipOut
	account := func(f fixture) relationshipOut { return f.accountRel }
	primary := func(f fixture) relationshipOut { return f.primaryRel }
	userRel := func(f fixture) relationshipOut { return f.userRel }

	changes := []struct {
		name        string
		rel         pick
		patch       body
		role        string
		wantPrimary bool
	}{
		{"account role", account, body{"role": "cfo"}, "cfo", false},
		{"role is trimmed", account, body{"role": "  cfo "}, "cfo", false},
		{"null role clears", account, body{"role": nil}, "", false},
		{"becomes primary", account, body{"isPrimary": true}, "buyer", true},
		{"role and primary", account, body{"role": "cfo", "isPrimary": true}, "cfo", true},
		{"primary's role", primary, body{"role": "ceo"}, "ceo", true},
		{"primary steps down", primary, body{"isPrimary": false}, "cto", false},
		{"null isPrimary is false", primary, body{"isPrimary": nil}, "cto", false},
		{"user relationship type", userRel, body{"role": "reviewer"}, "reviewer", false},
		{"empty user role is the default", userRel, body{"role": ""}, "associated", false},
		{"isPrimary false on a user", userRel, body{"role": "reviewer", "isPrimary": false}, "reviewer", false},
	}
	for _, tt := range changes {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := fix(t)
			old := tt.rel(f)
			rec := b.do(t, http.MethodPatch, f.base+"/"+old.ID.String(), tt.patch, as(b.writer))
			wantStatus(t, rec, http.StatusOK)
			got := decode[relationshipOut](t, rec)
			if got.ID == old.ID || got.EntityType != old.EntityType || got.EntityID != old.EntityID ||
				got.Role != tt.role || got.IsPrimary != tt.wantPrimary || got.RemovedAt != nil {
				t.Errorf("new version %+v, want a new id for %s %s with role %q, isPrimary %v", got, old.EntityType, old.EntityID, tt.role, tt.wantPrimary)
			}
			current := list(t, f, "")
			if find(current, old.ID) != nil || find(current, got.ID) == nil || len(current) != 4 {
				t.Errorf("current relationships %+v, want the new version in place of %s", current, old.ID)
			}
			ended := find(list(t, f, "?history=true"), old.ID)
			if ended == nil || ended.RemovedAt == nil || ended.Role != old.Role {
				t.Errorf("the old version in the history: %+v, want it with removedAt and role %q", ended, old.Role)
			}
			primaries := b.count(t, "contact_accounts", "account_id = $1 AND is_primary AND removed_at IS NULL", old.EntityID)
			if old.EntityType == "account" {
				want := 0
				if tt.wantPrimary || old.EntityID == f.account {
					want = 1 // the account's primary is the new version, or rival still
				}
				if primaries != want {
					t.Errorf("%d current primaries of the account, want %d", primaries, want)
				}
			}
			if rival := b.getContact(t, f.rival.ID); rival.Relationships[0].IsPrimary == (tt.wantPrimary && old.EntityID == f.account) {
				t.Errorf("rival's primary flag %v after the change", rival.Relationships[0].IsPrimary)
			}
			// The old id names no current relationship any more.
			wantProblem(t, b.do(t, http.MethodPatch, f.base+"/"+old.ID.String(), body{"role": "x"}), http.StatusNotFound)
		})
	}

	t.Run("audited as a removal and an addition", func(t *testing.T) {
		t.Parallel()
		f := fix(t)
		rec := b.do(t, http.MethodPatch, f.base+"/"+f.accountRel.ID.String(), body{"role": "cfo"}, as(b.writer))
		wantStatus(t, rec, http.StatusOK)
		next := decode[relationshipOut](t, rec)
		type entry struct {
			Action   string                    `json:"action"`
			EntityID uuid.UUID                 `json:"entityId"`
			Actor    string                    `json:"actor"`
			Changes  map[string]map[string]any `json:"changes"`
		}
		rec = b.do(t, http.MethodGet, "/api/contacts/"+f.contact.ID.String()+"/audit", nil)
		wantStatus(t, rec, http.StatusOK)
		var removed, added bool
		for _, e := range decode[page[entry]](t, rec).Data {
			removed = removed || (e.Action == "delete" && e.EntityID == f.accountRel.ID && e.Changes["replacedBy"]["after"] == next.ID.String())
			added = added || (e.Action == "create" && e.EntityID == next.ID && e.Changes["role"]["after"] == "cfo" && strings.Contains(e.Actor, b.writerID.String()))
		}
		if !removed || !added {
			t.Errorf("audit trail lacks the removal (%v) or the addition (%v): %s", removed, added, rec.Body)
		}
	})

	t.Run("a change that changes nothing", func(t *testing.T) {
		t.Parallel()
		f := fix(t)
		for _, patch := range []body{{}, {"role": "buyer"}, {"role": " buyer", "isPrimary": false}} {
			rec := b.do(t, http.MethodPatch, f.base+"/"+f.accountRel.ID.String(), patch)
			wantStatus(t, rec, http.StatusOK)
			if got := decode[relationshipOut](t, rec); got.ID != f.accountRel.ID || got.Role != "buyer" {
				t.Errorf("after %v: %+v, want the relationship as it is", patch, got)
			}
		}
		if n := len(list(t, f, "?history=true")); n != 4 {
			t.Errorf("%d relationships in the history, want 4", n)
		}
		if n := b.count(t, "audit_log", "entity_id = $1", f.accountRel.ID); n != 1 {
			t.Errorf("%d audit entries for the relationship, want its creation only", n)
		}
	})

	refusals := []struct {
		name   string
		rel    pick
		patch  any
		status int
		fields []string
	}{
		{"primary user", userRel, body{"isPrimary": true}, http.StatusUnprocessableEntity, []string{"isPrimary"}},
		{"role too long", account, body{"role": strings.Repeat("r", 101)}, http.StatusUnprocessableEntity, []string{"role"}},
		{"wrong types", account, body{"role": 5, "isPrimary": "yes"}, http.StatusUnprocessableEntity, []string{"role", "isPrimary"}},
		{"invalid and mistyped", account, body{"role": "a\u0000b", "isPrimary": 1}, http.StatusUnprocessableEntity, []string{"role", "isPrimary"}},
		{"entity fields cannot change", account, body{"entityId": uuid.NewString(), "type": "user"}, http.StatusBadRequest, []string{"entityId", "type"}},
		{"not an object", account, `["role"]`, http.StatusBadRequest, nil},
		{"a user relationship type the contact has", userRel, body{"role": "WATCHER"}, http.StatusConflict, nil},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := fix(t)
			rec := b.do(t, http.MethodPatch, f.base+"/"+tt.rel(f).ID.String(), tt.patch)
			wantFields(t, wantProblem(t, rec, tt.status), tt.fields...)
			if history := list(t, f, "?history=true"); len(history) != 4 || find(history, tt.rel(f).ID).RemovedAt != nil {
				t.Errorf("a refused change changed the relationships: %+v", history)
			}
		})
	}

	t.Run("not found", func(t *testing.T) {
		t.Parallel()
		f := fix(t)
		wantStatus(t, b.do(t, http.MethodDelete, f.base+"/"+f.watcherRel.ID.String(), nil), http.StatusNoContent)
		other := b.createContact(t, body{"firstName": "Other"})
		for _, tt := range []struct{ name, path string }{
			{"unknown relationship", f.base + "/" + uuid.NewString()},
			{"removed relationship", f.base + "/" + f.watcherRel.ID.String()},
			{"another contact's relationship", "/api/contacts/" + other.ID.String() + "/relationships/" + f.accountRel.ID.String()},
			{"unknown contact", "/api/contacts/" + uuid.NewString() + "/relationships/" + f.accountRel.ID.String()},
			{"malformed relationship id", f.base + "/xyz"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				wantProblem(t, b.do(t, http.MethodPatch, tt.path, body{"role": "x"}), http.StatusNotFound)
			})
		}
	})

	t.Run("read key", func(t *testing.T) {
		t.Parallel()
		f := fix(t)
		wantProblem(t, b.do(t, http.MethodPatch, f.base+"/"+f.accountRel.ID.String(), body{"role": "x"}, as(b.reader)), http.StatusForbidden)
	})
}

// TestUpdateRelationshipPrimaryConcurrent makes several contacts' relationships to one account
// primary at once, by PATCH and by POST: every request succeeds and one primary remains.
func TestUpdateRelationshipPrimaryConcurrent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acct := b.createAccount(t, "Acme")
	const n = 16
	contacts := make([]contactOut, n)
	for i := range contacts {
		in := body{"firstName": "C"}
		if i%4 != 0 {
			in["relationships"] = []body{{"type": "account", "entityId": acct, "role": "buyer"}}
		}
		contacts[i] = b.createContact(t, in)
	}
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i, c := range contacts {
		wg.Go(func() {
			base := "/api/contacts/" + c.ID.String() + "/relationships"
			if len(c.Relationships) == 0 {
				codes[i] = b.do(t, http.MethodPost, base, body{"entityType": "account", "entityId": acct, "isPrimary": true}).Code
				return
			}
			codes[i] = b.do(t, http.MethodPatch, base+"/"+c.Relationships[0].ID.String(), body{"isPrimary": true}).Code
		})
	}
	wg.Wait()
	for i, code := range codes {
		if code != http.StatusOK && code != http.StatusCreated {
			t.Errorf("request %d answered %d, want 200 or 201", i, code)
		}
	}
	if got := b.count(t, "contact_accounts", "account_id = $1 AND is_primary AND removed_at IS NULL", acct); got != 1 {
		t.Errorf("%d current primaries, want 1", got)
	}
}
