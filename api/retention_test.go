package api_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/contactd/contactd/contact"
	"github.com/google/uuid"
)

type retentionPolicyOut struct {
	ID       string         `json:"id"`
	Action   string         `json:"action"`
	Filter   map[string]any `json:"filter"`
	Schedule *string        `json:"schedule"`
}

func TestRetentionPolicies(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var stale []string
	for _, name := range []string{"ann", "bob", "cy"} {
		c, err := b.app.Contacts.CreateContact(contact.WithActor(t.Context(), "test"), contact.NewContact{FirstName: name, Email: name + "@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.pool.Exec(t.Context(), `UPDATE contacts SET updated_at = now() - interval '3 years' WHERE id = $1`, c.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := b.pool.Exec(t.Context(), `UPDATE audit_log SET at = now() - interval '3 years' WHERE contact_id = $1`, c.ID); err != nil {
			t.Fatal(err)
		}
		stale = append(stale, c.ID.String())
	}
	if _, err := b.app.Contacts.CreateContact(t.Context(), contact.NewContact{FirstName: "fresh"}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(stale)

	// Every wrong field is named, nested filter fields included; unknown top-level fields are 400.
	p := wantProblem(t, b.do(t, http.MethodPost, "/api/retention-policies", body{"name": "", "action": "shred",
		"filter": body{"inactiveDays": -1, "status": "merged", "company": "x"}, "schedule": "1s"}), http.StatusUnprocessableEntity)
	wantFields(t, p, "action", "filter.company", "filter.inactiveDays", "filter.status", "name", "schedule")
	wantProblem(t, b.do(t, http.MethodPost, "/api/retention-policies", body{"name": "x", "action": "archive", "when": "now"}), http.StatusBadRequest)
	p = wantProblem(t, b.do(t, http.MethodPost, "/api/retention-policies", body{"name": "x", "action": "archive", "filter": "old"}), http.StatusUnprocessableEntity)
	wantFields(t, p, "filter")

	created := b.do(t, http.MethodPost, "/api/retention-policies", body{"name": "two years", "action": "archive",
		"filter": body{"inactiveDays": 730}, "schedule": "24h"})
	wantStatus(t, created, http.StatusCreated)
	pol := decode[retentionPolicyOut](t, created)
	if pol.Schedule == nil || *pol.Schedule != "24h0m0s" || pol.Filter["inactiveDays"] != float64(730) {
		t.Fatalf("created %+v", pol)
	}
	wantStatus(t, b.do(t, http.MethodGet, "/api/retention-policies/"+pol.ID, nil), http.StatusOK)
	wantStatus(t, b.do(t, http.MethodGet, "/api/retention-policies", nil), http.StatusOK)
	wantStatus(t, b.do(t, http.MethodGet, "/api/retention-policies/"+uuid.NewString(), nil), http.StatusNotFound)
	wantStatus(t, b.do(t, http.MethodGet, "/api/retention-policies/nope", nil), http.StatusNotFound)
	patched := b.do(t, http.MethodPatch, "/api/retention-policies/"+pol.ID, body{"schedule": nil})
	wantStatus(t, patched, http.StatusOK)
	if got := decode[retentionPolicyOut](t, patched); got.Schedule != nil {
		t.Fatalf("schedule %v after clearing it", *got.Schedule)
	}

	wantFields(t, wantProblem(t, b.do(t, http.MethodPost, "/api/retention-policies/"+pol.ID+"/run?dryRun=maybe", nil),
		http.StatusUnprocessableEntity), "dryRun")
	dry := b.do(t, http.MethodPost, "/api/retention-policies/"+pol.ID+"/run?dryRun=true", nil)
	wantStatus(t, dry, http.StatusOK)
	got := decode[struct {
		Matched    int      `json:"matched"`
		ContactIDs []string `json:"contactIds"`
	}](t, dry)
	if got.Matched != 3 || !slices.Equal(got.ContactIDs, stale) {
		t.Fatalf("dry run %+v, want %v", got, stale)
	}

	started := b.do(t, http.MethodPost, "/api/retention-policies/"+pol.ID+"/run", nil)
	wantStatus(t, started, http.StatusAccepted)
	runID := decode[struct {
		RunID string `json:"runId"`
	}](t, started).RunID
	// One run at a time: the queued one is answered again.
	again := b.do(t, http.MethodPost, "/api/retention-policies/"+pol.ID+"/run", nil)
	wantStatus(t, again, http.StatusAccepted)
	if id := decode[struct {
		RunID string `json:"runId"`
	}](t, again).RunID; id != runID {
		t.Fatalf("a second run %s was queued beside %s", id, runID)
	}
	wantStatus(t, b.do(t, http.MethodDelete, "/api/retention-policies/"+pol.ID, nil), http.StatusConflict)
	// Work the run as the job would.
	if _, err := b.app.Retention.Execute(t.Context(), uuid.MustParse(runID)); err != nil {
		t.Fatal(err)
	}
	run := decode[struct {
		Status    string `json:"status"`
		Matched   int    `json:"matched"`
		Processed int    `json:"processed"`
	}](t, b.do(t, http.MethodGet, "/api/retention-policies/"+pol.ID+"/runs/"+runID, nil))
	if run.Status != "succeeded" || run.Matched != 3 || run.Processed != 3 {
		t.Fatalf("run %+v", run)
	}
	wantStatus(t, b.do(t, http.MethodGet, "/api/retention-policies/"+pol.ID+"/runs", nil), http.StatusOK)
	wantStatus(t, b.do(t, http.MethodGet, "/api/retention-policies/"+pol.ID+"/runs/"+uuid.NewString(), nil), http.StatusNotFound)
	var archived int
	if err := b.pool.QueryRow(t.Context(), `SELECT count(*) FROM contacts WHERE status = 'archived' AND id::text = ANY($1)`, stale).Scan(&archived); err != nil || archived != 3 {
		t.Fatalf("%d archived, %v", archived, err)
	}

	// Erasure is wired (erasure.Service): an erase policy runs.
	erase := decode[retentionPolicyOut](t, b.do(t, http.MethodPost, "/api/retention-policies", body{"name": "forget", "action": "erase",
		"filter": body{"noLawfulBasis": true, "inactiveDays": 365}}))
	wantStatus(t, b.do(t, http.MethodPost, "/api/retention-policies/"+erase.ID+"/run", nil), http.StatusAccepted)

	wantStatus(t, b.do(t, http.MethodDelete, "/api/retention-policies/"+pol.ID, nil), http.StatusNoContent)
	wantStatus(t, b.do(t, http.MethodGet, "/api/retention-policies/"+pol.ID, nil), http.StatusNotFound)
}
