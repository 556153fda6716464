package api_test

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/contactd/contactd/auth"
	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/dedupe"
	"github.com/contactd/contactd/internal/app"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/internal/dbtest"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
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

// queryCounter counts the queries a pool sends, but for API key lookups.
type queryCounter struct{ n atomic.Int64 }

func (q *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if !strings.Contains(data.SQL, "api_keys") {
		q.n.Add(1)
	}
	return ctx
}

func (q *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TestListDuplicatesReadsContactsPerPage: the review list reads the contacts of a whole page at
// once: a page of ten reviews takes as many queries as a page of two, and each item has the
// contacts GET /api/contacts/{id} answers.
func TestListDuplicatesReadsContactsPerPage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pc, err := pgxpool.ParseConfig(dbtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	counter := &queryCounter{}
	pc.AfterConnect, pc.ConnConfig.Tracer = db.AfterConnect, counter
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	a, err := app.New(pool)
	if err != nil {
		t.Fatal(err)
	}
	b := &testBundle{pool: pool, app: a, handler: newRouter(a)}
	b.admin, _ = b.apiKey(t, "admin key", auth.ScopeAdmin)

	propose := func(n int) {
		for i := range n {
			x := b.createContact(t, body{"firstName": "Page", "lastName": fmt.Sprint("P", i)})
			y := b.createContact(t, body{"firstName": "Page", "lastName": fmt.Sprint("P", i), "company": "Elsewhere"})
			if _, err := a.Dedupe.ProposeReviews(ctx, []dedupe.ReviewProposal{{A: x.ID, B: y.ID, Score: 0.5,
				Explanation: map[string]any{}, FingerprintA: "a", FingerprintB: "b"}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	list := func(want int) (page[reviewOut], int64) {
		t.Helper()
		before := counter.n.Load()
		rec := b.do(t, http.MethodGet, "/api/duplicates?limit=50", nil)
		queries := counter.n.Load() - before
		wantStatus(t, rec, http.StatusOK)
		p := decode[page[reviewOut]](t, rec)
		if len(p.Data) != want {
			t.Fatalf("%d reviews listed, want %d", len(p.Data), want)
		}
		return p, queries
	}
	propose(2)
	_, small := list(2)
	propose(8)
	p, large := list(10)
	if large != small {
		t.Errorf("a page of 10 reviews took %d queries, a page of 2 took %d; want the same", large, small)
	}
	for _, r := range p.Data {
		if len(r.Contacts) != 2 {
			t.Fatalf("review %s has %d contacts", r.ID, len(r.Contacts))
		}
		for _, c := range r.Contacts {
			if one := b.getContact(t, c.ID); !reflect.DeepEqual(one, c) {
				t.Errorf("review %s shows %+v, GET /api/contacts/%s %+v", r.ID, c, c.ID, one)
			}
		}
	}
}
