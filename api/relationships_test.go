package api_test

import (
	"net/http"
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
