package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/dedupe"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

type reviewOut struct {
	ID          uuid.UUID    `json:"id"`
	Status      string       `json:"status"`
	Score       float64      `json:"score"`
	Contacts    []contactOut `json:"contacts"`
	Explanation struct {
		Fields []struct {
			Field string `json:"field"`
			Level string `json:"level"`
		} `json:"fields"`
	} `json:"explanation"`
}

// TestDuplicatesReviewFlow: a check before creating, an unsure pair in the review queue with
// its explanation, dismissal, and a merge of a review item.
func TestDuplicatesReviewFlow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	normalize := func(id uuid.UUID) {
		t.Helper()
		if err := b.app.Contacts.Normalize(ctx, id, "US", func(pgx.Tx) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	john := b.createContact(t, body{"firstName": "John", "lastName": "Miller", "email": "jmiller@globex.io", "company": "Globex"})
	normalize(john.ID)

	// ?dedupe=check creates nothing and names the likely match.
	rec := b.do(t, http.MethodPost, "/api/contacts?dedupe=check", body{"firstName": "Johnny", "lastName": "Miller", "email": "JMiller@globex.io"})
	wantStatus(t, rec, http.StatusOK)
	check := decode[struct {
		Matches []struct {
			ContactID uuid.UUID `json:"contactId"`
			Decision  string    `json:"decision"`
		} `json:"matches"`
	}](t, rec)
	if len(check.Matches) != 1 || check.Matches[0].ContactID != john.ID {
		t.Fatalf("check = %+v", check)
	}
	if n := b.count(t, "contacts", "true"); n != 1 {
		t.Fatalf("a check created a contact: %d contacts", n)
	}

	// An unsure pair lands in the review queue.
	jon := b.createContact(t, body{"firstName": "Jon", "lastName": "Miller", "company": "Globex Corp", "title": "CTO"})
	normalize(jon.ID)
	// Without a merger the check only proposes.
	engine := &dedupe.Engine{Store: b.app.Dedupe, Contacts: b.app.Contacts}
	if _, err := engine.CheckContact(contact.WithActor(ctx, "test"), jon.ID); err != nil {
		t.Fatal(err)
	}
	rec = b.do(t, http.MethodGet, "/api/duplicates?status=open", nil)
	wantStatus(t, rec, http.StatusOK)
	reviews := decode[page[reviewOut]](t, rec)
	if len(reviews.Data) != 1 || len(reviews.Data[0].Contacts) != 2 || len(reviews.Data[0].Explanation.Fields) == 0 {
		t.Fatalf("open reviews = %+v", reviews)
	}
	item := reviews.Data[0]

	// A survivor outside the review's pair is refused, and the item stays open.
	stranger := b.createContact(t, body{"firstName": "Grace", "lastName": "Hopper"})
	p := wantProblem(t, b.do(t, http.MethodPost, "/api/duplicates/"+item.ID.String()+"/merge", body{"survivorId": stranger.ID.String()}),
		http.StatusUnprocessableEntity)
	wantFields(t, p, "survivorId")
	if r := decode[reviewOut](t, b.do(t, http.MethodGet, "/api/duplicates/"+item.ID.String(), nil)); r.Status != "open" {
		t.Fatalf("review after a refused merge: %s", r.Status)
	}

	// Merging it through the review item.
	rec = b.do(t, http.MethodPost, "/api/duplicates/"+item.ID.String()+"/merge", body{"fieldValues": body{"title": jon.ID.String()}})
	wantStatus(t, rec, http.StatusOK)
	merged := decode[struct {
		Contact contactOut `json:"contact"`
	}](t, rec)
	if merged.Contact.ID != john.ID || merged.Contact.Title == nil || *merged.Contact.Title != "CTO" {
		t.Fatalf("survivor = %+v", merged.Contact)
	}
	rec = b.do(t, http.MethodGet, "/api/duplicates/"+item.ID.String(), nil)
	if r := decode[reviewOut](t, rec); r.Status != "merged" {
		t.Fatalf("review after merge: %s", r.Status)
	}
	// A decided item cannot be dismissed.
	wantProblem(t, b.do(t, http.MethodPost, "/api/duplicates/"+item.ID.String()+"/dismiss", nil), http.StatusConflict)
	wantProblem(t, b.do(t, http.MethodPost, "/api/duplicates/"+uuid.NewString()+"/dismiss", nil), http.StatusNotFound)
	wantProblem(t, b.do(t, http.MethodGet, "/api/duplicates?status=maybe", nil), http.StatusUnprocessableEntity)
	wantProblem(t, b.do(t, http.MethodPost, "/api/contacts?dedupe=maybe", body{"firstName": "A"}), http.StatusUnprocessableEntity)
}

func TestDedupeRuns(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := b.do(t, http.MethodPost, "/api/dedupe/runs", nil)
	wantStatus(t, rec, http.StatusAccepted)
	run := decode[struct {
		ID     uuid.UUID `json:"id"`
		Status string    `json:"status"`
	}](t, rec)
	if run.Status != "queued" {
		t.Fatalf("run = %+v", run)
	}
	if n := b.count(t, "river_job", "kind = 'dedupe_scan'"); n != 1 {
		t.Fatalf("%d scan jobs enqueued", n)
	}
	wantStatus(t, b.do(t, http.MethodGet, "/api/dedupe/runs/"+run.ID.String(), nil), http.StatusOK)
	rec = b.do(t, http.MethodGet, "/api/dedupe/runs", nil)
	wantStatus(t, rec, http.StatusOK)
	if p := decode[page[struct {
		ID uuid.UUID `json:"id"`
	}]](t, rec); len(p.Data) != 1 {
		t.Fatalf("runs = %+v", p)
	}
}
