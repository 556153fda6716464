package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/google/uuid"
)

type batchOut struct {
	Results []struct {
		Index  int        `json:"index"`
		Status string     `json:"status"`
		ID     *uuid.UUID `json:"id"`
		Error  *problem   `json:"error"`
	} `json:"results"`
	Counts map[string]int `json:"counts"`
}

func (b *testBundle) batch(t *testing.T, path string, in body) batchOut {
	t.Helper()
	rec := b.do(t, http.MethodPost, path, in)
	wantStatus(t, rec, http.StatusOK)
	out := decode[batchOut](t, rec)
	if n := len(in["contacts"].([]any)); len(out.Results) != n {
		t.Fatalf("%d results for %d items: %s", len(out.Results), n, rec.Body)
	}
	for i, r := range out.Results {
		if r.Index != i {
			t.Fatalf("result %d has index %d", i, r.Index)
		}
	}
	return out
}

// wantItem checks one result's status and, for an error, its status and the fields it names.
func (o batchOut) wantItem(t *testing.T, i int, status string, errStatus int, fields ...string) uuid.UUID {
	t.Helper()
	r := o.Results[i]
	if r.Status != status {
		t.Fatalf("item %d: %s (%+v), want %s", i, r.Status, r.Error, status)
	}
	if status == "error" {
		if r.Error == nil || r.Error.Status != errStatus {
			t.Fatalf("item %d: error %+v, want status %d", i, r.Error, errStatus)
		}
		wantFields(t, *r.Error, fields...)
	}
	if r.ID == nil {
		return uuid.Nil
	}
	return *r.ID
}

// TestBatchUpsertByEmail: one request creates, updates and leaves unchanged by email; an item
// repeating an email of the batch updates the contact an earlier item created instead of
// creating it twice; bad items fail alone, named contacts[i].field; every change is audited and
// normalized.
func TestBatchUpsertByEmail(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ada := b.createContact(t, body{"firstName": "Ada", "email": "ada@example.com", "title": "Engineer"})
	out := b.batch(t, "/api/contacts/batch", body{"mode": "upsert", "matchOn": "email", "contacts": []any{
		body{"email": "ADA@example.com", "title": "Countess"},
		body{"firstName": "Grace", "email": "grace@example.com"},
		body{"email": "grace@EXAMPLE.com", "company": "Navy"},
		body{"firstName": "Bad", "email": "not an email"},
		body{"firstName": "Unknown", "email": "u@example.com", "nickname": "x"},
		body{"email": "ADA@example.com", "title": "Countess"},
		body{"firstName": "No email"},
		"not an object",
		body{"firstName": 5, "email": "five@example.com"},
	}})
	if id := out.wantItem(t, 0, "updated", 0); id != ada.ID {
		t.Errorf("item 0 updated %s, want Ada %s", id, ada.ID)
	}
	grace := out.wantItem(t, 1, "created", 0)
	if id := out.wantItem(t, 2, "updated", 0); id != grace {
		t.Errorf("item 2 updated %s, want the contact item 1 created (%s)", id, grace)
	}
	out.wantItem(t, 3, "error", http.StatusUnprocessableEntity, "contacts[3].email")
	out.wantItem(t, 4, "error", http.StatusUnprocessableEntity, "contacts[4].nickname")
	out.wantItem(t, 5, "unchanged", 0)
	out.wantItem(t, 6, "error", http.StatusUnprocessableEntity, "contacts[6].email")
	out.wantItem(t, 7, "error", http.StatusUnprocessableEntity, "contacts[7]")
	out.wantItem(t, 8, "error", http.StatusUnprocessableEntity, "contacts[8].firstName")
	if want := map[string]int{"created": 1, "updated": 2, "unchanged": 1, "error": 5}; fmt.Sprint(out.Counts) != fmt.Sprint(want) {
		t.Errorf("counts %v, want %v", out.Counts, want)
	}

	if got := b.getContact(t, ada.ID); deref(got.Title) != "Countess" || got.Version != 2 {
		t.Errorf("Ada: title %v version %d, want Countess at version 2", deref(got.Title), got.Version)
	}
	if got := b.getContact(t, grace); deref(got.Company) != "Navy" || deref(got.FirstName) != "Grace" {
		t.Errorf("Grace: %+v, want Grace of Navy", got)
	}
	if n := b.count(t, "contacts", "true"); n != 2 {
		t.Errorf("%d contacts, want 2 (no bad item written, no duplicate created)", n)
	}
	if n := b.count(t, "audit_log", "contact_id = $1 AND action = 'update'", ada.ID); n != 1 {
		t.Errorf("Ada has %d update audit entries, want 1", n)
	}
	if n := b.count(t, "audit_log", "contact_id = $1 AND action IN ('create', 'update')", grace); n != 2 {
		t.Errorf("Grace has %d audit entries, want create and update", n)
	}
	// Ada's email did not change; Grace was created: one pending normalize job for Grace.
	if n := b.count(t, "river_job", "kind = 'normalize_contact' AND args->>'contact_id' = $1", grace.String()); n != 1 {
		t.Errorf("%d normalize jobs for Grace, want 1", n)
	}
}

// TestBatchByExternalID: creating by external id records the reference; a repeat in the batch
// fails as a duplicate naming the contact; upserting by the same ids updates those contacts.
func TestBatchByExternalID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	out := b.batch(t, "/api/contacts/batch", body{"mode": "create", "matchOn": "externalId", "source": "crm-x", "contacts": []any{
		body{"externalId": "e1", "firstName": "One"},
		body{"externalId": "e1", "firstName": "One again"},
		body{"firstName": "No id"},
		body{"externalId": "e2", "firstName": "Two", "email": "two@example.com"},
	}})
	one := out.wantItem(t, 0, "created", 0)
	if id := out.wantItem(t, 1, "error", http.StatusConflict); id != one || out.Results[1].Error.ExistingContactID != one.String() {
		t.Errorf("item 1: %+v, want a conflict naming %s", out.Results[1], one)
	}
	out.wantItem(t, 2, "error", http.StatusUnprocessableEntity, "contacts[2].externalId")
	two := out.wantItem(t, 3, "created", 0)
	if n := b.count(t, "external_refs", "source = 'crm-x'"); n != 2 {
		t.Errorf("%d external refs, want 2", n)
	}

	out = b.batch(t, "/api/contacts/batch", body{"mode": "upsert", "matchOn": "externalId", "source": "crm-x", "contacts": []any{
		body{"externalId": "e2", "title": "Boss"},
		body{"externalId": "e1", "firstName": "One"},
		body{"externalId": "e3", "firstName": "Three"},
		body{"externalId": "e1", "email": "two@example.com"},
	}})
	if id := out.wantItem(t, 0, "updated", 0); id != two {
		t.Errorf("e2 updated %s, want %s", id, two)
	}
	if id := out.wantItem(t, 1, "unchanged", 0); id != one {
		t.Errorf("e1 left %s, want %s", id, one)
	}
	out.wantItem(t, 2, "created", 0)
	// The same duplicate-email rule as a single update.
	if id := out.wantItem(t, 3, "error", http.StatusConflict); id != two {
		t.Errorf("e1 taking e2's email: %+v, want a conflict naming %s", out.Results[3], two)
	}
	// Another source's e1 is another contact.
	out = b.batch(t, "/api/contacts/batch", body{"mode": "upsert", "matchOn": "externalId", "contacts": []any{
		body{"externalId": "e1", "firstName": "Elsewhere"},
	}})
	if id := out.wantItem(t, 0, "created", 0); id == one {
		t.Errorf("source api's e1 matched crm-x's")
	}
}

// TestBatchCreateByEmail: creating an address an active contact has fails that item with 409
// naming it, as a single create does, unless allowDuplicate.
func TestBatchCreateByEmail(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ada := b.createContact(t, body{"firstName": "Ada", "email": "ada@example.com"})
	acct := b.createAccount(t, "Acme")
	items := []any{
		body{"firstName": "Ada 2", "email": "ada@example.com"},
		body{"firstName": "Linus", "relationships": []any{body{"type": "account", "entityId": acct.String(), "role": "buyer"}}},
		body{"firstName": "Bad rel", "relationships": []any{body{"type": "account", "entityId": uuid.NewString()}}},
	}
	out := b.batch(t, "/api/contacts/batch", body{"mode": "create", "matchOn": "email", "contacts": items})
	if id := out.wantItem(t, 0, "error", http.StatusConflict); id != ada.ID {
		t.Errorf("duplicate of Ada: %+v", out.Results[0])
	}
	linus := out.wantItem(t, 1, "created", 0)
	if got := b.getContact(t, linus); len(got.Relationships) != 1 {
		t.Errorf("Linus has %d relationships, want 1", len(got.Relationships))
	}
	if r := out.Results[2]; r.Status != "error" || r.Error.Status < 400 || r.Error.Status >= 500 {
		t.Errorf("an unknown account: %+v, want a client error", r)
	}
	out = b.batch(t, "/api/contacts/batch?allowDuplicate=true", body{"mode": "create", "matchOn": "email", "contacts": items[:1]})
	out.wantItem(t, 0, "created", 0)
}

// TestBatchRequestErrors: what is wrong with the batch as a whole fails it, naming the field.
func TestBatchRequestErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	many := make([]any, 501)
	for i := range many {
		many[i] = body{"firstName": "x"}
	}
	tests := []struct {
		name   string
		in     any
		status int
		fields []string
	}{
		{"bad mode and match", body{"mode": "merge", "matchOn": "phone", "contacts": []any{}}, 422, []string{"matchOn", "mode"}},
		{"no contacts", body{"mode": "create", "matchOn": "email"}, 422, []string{"contacts"}},
		{"contacts not an array", body{"mode": "create", "matchOn": "email", "contacts": 3}, 422, []string{"contacts"}},
		{"too many", body{"mode": "create", "matchOn": "email", "contacts": many}, 422, []string{"contacts"}},
		{"unknown field", body{"mode": "create", "matchOn": "email", "contacts": []any{}, "dryRun": true}, 400, []string{"dryRun"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := wantProblem(t, b.do(t, http.MethodPost, "/api/contacts/batch", tt.in), tt.status)
			wantFields(t, p, tt.fields...)
		})
	}
	if n := b.count(t, "contacts", "true"); n != 0 {
		t.Errorf("%d contacts written by refused batches", n)
	}
}

// TestBatchConcurrentUpserts: batches upserting the same new addresses at once, in different
// orders, create each contact once.
func TestBatchConcurrentUpserts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	items := func(reverse bool) []any {
		out := make([]any, 20)
		for i := range out {
			j := i
			if reverse {
				j = len(out) - 1 - i
			}
			out[i] = body{"firstName": fmt.Sprint("P", j), "email": fmt.Sprintf("p%d@example.com", j)}
		}
		return out
	}
	done := make(chan batchOut, 4)
	for w := range 4 {
		go func() {
			rec := serve(t, b.handler, http.MethodPost, "/api/contacts/batch", body{"mode": "upsert", "matchOn": "email", "contacts": items(w%2 == 1)}, as(b.writer))
			if rec.Code != http.StatusOK {
				t.Errorf("batch %d: %d %s", w, rec.Code, rec.Body)
			}
			var out batchOut
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
				t.Errorf("batch %d: %v", w, err)
			}
			done <- out
		}()
	}
	created := 0
	for range 4 {
		out := <-done
		created += out.Counts["created"]
		if out.Counts["error"] != 0 {
			t.Errorf("errors: %+v", out.Results)
		}
	}
	if n := b.count(t, "contacts", "true"); n != 20 || created != 20 {
		t.Errorf("%d contacts, %d created results, want 20 of each", n, created)
	}
}
