package api_test

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
)

// TestMergeDryRun: ?dryRun=true answers the survivor as the merge would leave it and what would
// move, and writes nothing: no merge, no change to either contact, no audit entry, no job.
func TestMergeDryRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acct := b.createAccount(t, "Acme")
	a := b.createContact(t, body{"firstName": "Ann", "email": "ann@example.com"})
	c := b.createContact(t, body{"firstName": "Anne", "title": "CEO", "email": "anne@example.com", "phone": "+1 415 555 0100",
		"relationships": []any{body{"type": "account", "entityId": acct.String(), "role": "buyer"}}})
	audits := b.count(t, "audit_log", "true")
	jobs := b.count(t, "river_job", "true")

	req := body{"contactIds": []uuid.UUID{a.ID, c.ID}, "fieldValues": body{"email": c.ID}}
	rec := b.do(t, http.MethodPost, "/api/contacts/merge?dryRun=true", req, as(b.writer))
	wantStatus(t, rec, http.StatusOK)
	out := decode[struct {
		DryRun  bool             `json:"dryRun"`
		Merge   mergeOut         `json:"merge"`
		Contact mergedContactOut `json:"contact"`
		Moves   map[string]int   `json:"moves"`
	}](t, rec)
	if !out.DryRun || out.Merge.SurvivorID != a.ID || out.Contact.ID != a.ID || deref(out.Contact.Email) != "anne@example.com" ||
		deref(out.Contact.Title) != "CEO" || len(out.Contact.Relationships) != 1 {
		t.Fatalf("dry run %+v", out)
	}
	if out.Moves["relationships.accounts"] != 1 || out.Moves["alternates"] < 1 {
		t.Errorf("moves %v, want the account relationship and C's email and phone as alternates", out.Moves)
	}

	if n := b.count(t, "merges", "true"); n != 0 {
		t.Errorf("%d merges written by a dry run", n)
	}
	if got := b.getContact(t, c.ID); got.Status != "active" || len(got.Relationships) != 1 {
		t.Errorf("C after a dry run: %+v", got)
	}
	if got := b.getContact(t, a.ID); deref(got.Email) != "ann@example.com" || got.Version != a.Version {
		t.Errorf("A after a dry run: %+v", got)
	}
	if n := b.count(t, "audit_log", "true"); n != audits {
		t.Errorf("%d audit entries after a dry run, want %d", n, audits)
	}
	if n := b.count(t, "river_job", "true"); n != jobs {
		t.Errorf("%d jobs after a dry run, want %d", n, jobs)
	}
	// The same checks as a merge: an unknown contact is named.
	p := wantProblem(t, b.do(t, http.MethodPost, "/api/contacts/merge?dryRun=true", body{"contactIds": []uuid.UUID{a.ID, uuid.New()}}), http.StatusUnprocessableEntity)
	wantFields(t, p, "contactIds[1]")
	wantProblem(t, b.do(t, http.MethodPost, "/api/contacts/merge?dryRun=maybe", req), http.StatusUnprocessableEntity)

	// And the merge itself does what the dry run said.
	rec = b.do(t, http.MethodPost, "/api/contacts/merge", req, as(b.writer))
	wantStatus(t, rec, http.StatusOK)
	if got := b.getContact(t, a.ID); deref(got.Email) != "anne@example.com" || len(got.Relationships) != 1 {
		t.Errorf("after the merge: %+v", got)
	}
}
