package api_test

import (
	"context"
	"crypto/sha256"
	"net/http"
	"sync"
	"testing"

	"github.com/contactd/contactd/idempotency"
	"github.com/contactd/contactd/webhook"
)

// TestIdempotencyKey: a repeat of a POST with the same key and body is answered the first
// response without doing the work again; another body with the key is refused (422); the key is
// the API key's own; a key used by a request still running answers 409.
func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ada := body{"firstName": "Ada", "email": "ada@example.com"}
	key := withHeader("Idempotency-Key", "create-ada-1")

	first := b.do(t, http.MethodPost, "/api/contacts", ada, key)
	wantStatus(t, first, http.StatusCreated)
	again := b.do(t, http.MethodPost, "/api/contacts", ada, key)
	wantStatus(t, again, http.StatusCreated)
	if again.Body.String() != first.Body.String() || again.Header().Get("Location") != first.Header().Get("Location") ||
		again.Header().Get("Idempotent-Replayed") != "true" || again.Header().Get("Content-Type") != first.Header().Get("Content-Type") {
		t.Errorf("replay %q %v, want the first response %q", again.Body, again.Header(), first.Body)
	}
	if n := b.count(t, "contacts", "true"); n != 1 {
		t.Errorf("%d contacts after a replay, want 1", n)
	}
	if n := b.count(t, "audit_log", "action = 'create'"); n != 1 {
		t.Errorf("%d create audit entries, want 1", n)
	}

	p := wantProblem(t, b.do(t, http.MethodPost, "/api/contacts", body{"firstName": "Grace"}, key), http.StatusUnprocessableEntity)
	wantFields(t, p, "Idempotency-Key")

	// A client error is stored and replayed too (the request was handled).
	bad := withHeader("Idempotency-Key", "bad-1")
	wantProblem(t, b.do(t, http.MethodPost, "/api/contacts", body{"email": "nope"}, bad), http.StatusUnprocessableEntity)
	if rec := b.do(t, http.MethodPost, "/api/contacts", body{"email": "nope"}, bad); rec.Header().Get("Idempotent-Replayed") != "true" {
		t.Errorf("a 422 was not replayed")
	}

	// Another API key's "create-ada-1" is its own: it does the work (and meets the duplicate email).
	if rec := b.do(t, http.MethodPost, "/api/contacts", ada, key, as(b.writer)); rec.Code != http.StatusConflict || rec.Header().Get("Idempotent-Replayed") != "" {
		t.Errorf("the writer's same key: %d %v, want its own 409", rec.Code, rec.Header())
	}

	// A request holding a key is in progress until it completes.
	h := sha256.Sum256([]byte("whatever"))
	if out, _, err := b.app.Idempotency.Begin(context.Background(), b.writerID, "running-1", h[:]); err != nil || out != idempotency.Proceed {
		t.Fatalf("claim: %v %v", out, err)
	}
	rec := b.do(t, http.MethodPost, "/api/contacts", ada, withHeader("Idempotency-Key", "running-1"), as(b.writer))
	if rec.Code != http.StatusConflict || rec.Header().Get("Retry-After") == "" {
		t.Errorf("while in progress: %d %v, want 409 with Retry-After", rec.Code, rec.Header())
	}

	for _, bad := range []string{string(make([]byte, 256)), "tab\there", "é"} {
		p := wantProblem(t, b.do(t, http.MethodPost, "/api/contacts", ada, withHeader("Idempotency-Key", bad)), http.StatusUnprocessableEntity)
		wantFields(t, p, "Idempotency-Key")
	}
}

// TestIdempotencyConcurrent: requests sent at once with one key do the work once; the others
// get its response or a 409 in progress, never a second contact.
func TestIdempotencyConcurrent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	in := body{"mode": "create", "matchOn": "email", "contacts": []any{body{"firstName": "A", "email": "a@example.com"}, body{"firstName": "B"}}}
	var wg sync.WaitGroup
	codes := make(chan int, 8)
	for range 8 {
		wg.Go(func() {
			rec := serve(t, b.handler, http.MethodPost, "/api/contacts/batch", in, as(b.writer), withHeader("Idempotency-Key", "batch-1"))
			codes <- rec.Code
		})
	}
	wg.Wait()
	close(codes)
	for code := range codes {
		if code != http.StatusOK && code != http.StatusConflict {
			t.Errorf("status %d, want 200 or 409", code)
		}
	}
	if n := b.count(t, "contacts", "true"); n != 2 {
		t.Errorf("%d contacts, want 2 (the batch done once)", n)
	}
}

// TestIdempotencyWorkMarkedOnEveryCreate: every POST that creates something records, in the
// transaction of its work, that its Idempotency-Key's work is done, so that a repeat after a
// crash between the work's commit and the stored response is told so instead of creating a
// second one.
func TestIdempotencyWorkMarkedOnEveryCreate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.app.Webhooks.SetGuard(webhook.Guard{AllowPrivate: true})
	for _, tc := range []struct {
		path string
		in   body
	}{
		{"/api/contacts", body{"firstName": "Ada", "email": "ada@example.com"}},
		{"/api/users", body{"name": "Grace", "email": "grace@example.com"}},
		{"/api/accounts", body{"name": "Acme"}},
		{"/api/groups", body{"name": "VIP"}},
		{"/api/webhooks", body{"url": "http://127.0.0.1:1/hook", "events": []string{"contact.created"}}},
		{"/api/retention-policies", body{"name": "stale", "action": "archive", "filter": body{"inactiveDays": 365}}},
		{"/api/sources", body{"type": "http", "name": "crm", "direction": "pull",
			"config": body{"url": "https://crm.example.com/people", "itemsPath": "items", "idPath": "id",
				"fieldMapping": body{"email": "email"}}}},
	} {
		key := "create-" + tc.path
		rec := b.do(t, http.MethodPost, tc.path, tc.in, withHeader("Idempotency-Key", key))
		wantStatus(t, rec, http.StatusCreated)
		if n := b.count(t, "idempotency_keys", "key = '"+key+"' AND work_committed_at IS NOT NULL"); n != 1 {
			t.Errorf("POST %s: the key's work is not marked done with the work", tc.path)
		}
	}
}
