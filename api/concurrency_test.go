package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/contactd/contactd/dedupe"
	"github.com/google/uuid"
)

// TestConcurrentDuplicateCreates sends the same email from many clients at once: exactly one
// contact is created and every other request is a 409 naming it.
func TestConcurrentDuplicateCreates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const n = 12
	codes := make([]int, n)
	existing := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// The domain's case differs between clients: the normalized address is the same.
			email := fmt.Sprintf("race@%s", []string{"example.com", "EXAMPLE.com", "Example.Com"}[i%3])
			rec := b.do(t, http.MethodPost, "/api/contacts", body{"firstName": "Race", "email": email})
			codes[i] = rec.Code
			if rec.Code == http.StatusConflict {
				existing[i] = decode[problem](t, rec).ExistingContactID
			}
		})
	}
	wg.Wait()
	created := 0
	for _, c := range codes {
		switch c {
		case http.StatusCreated:
			created++
		case http.StatusConflict:
		default:
			t.Errorf("status %d, want 201 or 409", c)
		}
	}
	if created != 1 {
		t.Errorf("%d contacts created from one address, want 1 (statuses %v)", created, codes)
	}
	if n := b.count(t, "contacts", "true"); n != 1 {
		t.Errorf("%d contact rows, want 1", n)
	}
	for i, id := range existing {
		if codes[i] == http.StatusConflict && id == "" {
			t.Errorf("409 %d without existingContactId", i)
		}
	}
}

// TestConcurrentDuplicateUpdates races creates of an address with updates giving existing
// contacts the same address: they serialize on one lock, so exactly one request wins and every
// other is a 409 naming the winner.
func TestConcurrentDuplicateUpdates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const n = 12
	contacts := make([]contactOut, n)
	for i := range contacts {
		contacts[i] = b.createContact(t, body{"firstName": "Race", "email": fmt.Sprintf("race%d@example.com", i)})
	}
	codes := make([]int, n)
	existing := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			email := fmt.Sprintf("taken@%s", []string{"example.com", "EXAMPLE.com", "Example.Com"}[i%3])
			var rec *httptest.ResponseRecorder
			if i%3 == 0 {
				rec = b.do(t, http.MethodPost, "/api/contacts", body{"firstName": "Race", "email": email})
			} else {
				rec = b.do(t, http.MethodPatch, "/api/contacts/"+contacts[i].ID.String(), body{"email": email})
			}
			codes[i] = rec.Code
			if rec.Code == http.StatusConflict {
				existing[i] = decode[problem](t, rec).ExistingContactID
			}
		})
	}
	wg.Wait()
	won := 0
	for _, c := range codes {
		switch c {
		case http.StatusOK, http.StatusCreated:
			won++
		case http.StatusConflict:
		default:
			t.Errorf("status %d, want 200, 201 or 409", c)
		}
	}
	if won != 1 {
		t.Errorf("%d requests gave one address to an active contact, want 1 (statuses %v)", won, codes)
	}
	if got := b.count(t, "contacts", "lower(email_normalized) = 'taken@example.com' AND status = 'active'"); got != 1 {
		t.Errorf("%d active contacts with the address, want 1", got)
	}
	for i, id := range existing {
		if codes[i] == http.StatusConflict && id == "" {
			t.Errorf("409 %d without existingContactId", i)
		}
	}
}

// TestConcurrentIfMatch races updates that all name the same version: one wins, the others
// get 412, and no update is lost silently.
func TestConcurrentIfMatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.createContact(t, body{"firstName": "Ada"})
	const n = 8
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			rec := b.do(t, http.MethodPatch, "/api/contacts/"+c.ID.String(), body{"title": fmt.Sprint("v", i)}, withHeader("If-Match", `"1"`))
			codes[i] = rec.Code
		})
	}
	wg.Wait()
	ok := 0
	for _, code := range codes {
		switch code {
		case http.StatusOK:
			ok++
		case http.StatusPreconditionFailed:
		default:
			t.Errorf("status %d, want 200 or 412", code)
		}
	}
	if ok != 1 {
		t.Errorf("%d updates of version 1 succeeded, want 1 (statuses %v)", ok, codes)
	}
	if got := b.getContact(t, c.ID); got.Version != 2 {
		t.Errorf("version %d after one successful update, want 2", got.Version)
	}
}

// TestConcurrentReviewAnswers answers each of several open review items twice at once, by a
// merge and a dismissal: one answer is 200, the other 409, and the review says what happened
// (merged with the merge's id and the pair merged, or dismissed with both contacts active).
func TestConcurrentReviewAnswers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	for i := range 5 {
		x := b.createContact(t, body{"firstName": "Race", "lastName": fmt.Sprint("R", i)})
		y := b.createContact(t, body{"firstName": "Race", "lastName": fmt.Sprint("R", i), "company": "Elsewhere"})
		if _, err := b.app.Dedupe.ProposeReviews(ctx, []dedupe.ReviewProposal{{A: x.ID, B: y.ID, Score: 0.5,
			Explanation: map[string]any{}, FingerprintA: "a", FingerprintB: "b"}}); err != nil {
			t.Fatal(err)
		}
		var id uuid.UUID
		if err := b.pool.QueryRow(ctx, `SELECT id FROM duplicate_reviews WHERE $1 IN (contact_a, contact_b)`, x.ID).Scan(&id); err != nil {
			t.Fatal(err)
		}
		paths := []string{"/api/duplicates/" + id.String() + "/merge", "/api/duplicates/" + id.String() + "/dismiss"}
		recs := make([]*httptest.ResponseRecorder, len(paths))
		var wg sync.WaitGroup
		for k, path := range paths {
			wg.Go(func() { recs[k] = b.do(t, http.MethodPost, path, nil) })
		}
		wg.Wait()
		merged, dismissed := recs[0].Code == http.StatusOK, recs[1].Code == http.StatusOK
		if merged == dismissed || !slices.Contains([]int{recs[0].Code, recs[1].Code}, http.StatusConflict) {
			t.Fatalf("round %d: merge %d, dismiss %d; want one 200 and one 409", i, recs[0].Code, recs[1].Code)
		}
		review := decode[struct {
			Status  string     `json:"status"`
			MergeID *uuid.UUID `json:"mergeId"`
		}](t, b.do(t, http.MethodGet, "/api/duplicates/"+id.String(), nil))
		active := b.count(t, "contacts", "id = ANY($1) AND status = 'active'", []uuid.UUID{x.ID, y.ID})
		if dismissed {
			if review.Status != "dismissed" || review.MergeID != nil || active != 2 || b.count(t, "merges", "survivor_id = ANY($1)", []uuid.UUID{x.ID, y.ID}) != 0 {
				t.Fatalf("round %d: dismissed, but the review is %+v with %d active contacts", i, review, active)
			}
			continue
		}
		m := decode[struct {
			Merge struct {
				ID uuid.UUID `json:"id"`
			} `json:"merge"`
		}](t, recs[0])
		if review.Status != "merged" || review.MergeID == nil || *review.MergeID != m.Merge.ID || active != 1 {
			t.Fatalf("round %d: merged by %s, but the review is %+v with %d active contacts", i, m.Merge.ID, review, active)
		}
	}
}
