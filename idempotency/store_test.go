package idempotency_test

import (
	"context"
	"testing"

	"github.com/contactd/contactd/idempotency"
	"github.com/contactd/contactd/internal/dbtest"
	"github.com/google/uuid"
)

// TestExpiry: an expired key is claimed again (even with another request) and the cleaning
// deletes expired keys only; a request that held a key too long loses it to a repeat.
func TestExpiry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.DB(t)
	s := idempotency.NewStore(d)
	apiKey := uuid.New()
	begin := func(key, hash string) idempotency.Outcome {
		t.Helper()
		out, _, err := s.Begin(ctx, apiKey, key, []byte(hash))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, k := range []string{"old", "fresh", "stuck"} {
		if out := begin(k, "h1"); out != idempotency.Proceed {
			t.Fatalf("claim %s: %v", k, out)
		}
	}
	if err := s.Complete(ctx, apiKey, "old", idempotency.Response{Status: 201, Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(ctx, apiKey, "fresh", idempotency.Response{Status: 201, Body: []byte("y")}); err != nil {
		t.Fatal(err)
	}
	if out := begin("old", "h2"); out != idempotency.Mismatch {
		t.Errorf("another request with a live key: %v, want Mismatch", out)
	}
	if _, err := d.Pool.Exec(ctx, `UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = 'old'`); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Pool.Exec(ctx, `UPDATE idempotency_keys SET locked_until = now() - interval '1 second' WHERE key = 'stuck'`); err != nil {
		t.Fatal(err)
	}
	if out := begin("stuck", "h1"); out != idempotency.Proceed {
		t.Errorf("a repeat of a request that held its key too long: %v, want Proceed", out)
	}
	if _, err := d.Pool.Exec(ctx, `UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = 'stuck'`); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteExpired(ctx, 100); err != nil || n != 2 {
		t.Errorf("DeleteExpired: %d %v, want the 2 expired keys", n, err)
	}
	if out, r, err := s.Begin(ctx, apiKey, "fresh", []byte("h1")); err != nil || out != idempotency.Replay || string(r.Body) != "y" {
		t.Errorf("the live key: %v %+v %v, want its response replayed", out, r, err)
	}
	if out := begin("old", "h2"); out != idempotency.Proceed {
		t.Errorf("an expired (deleted) key: %v, want Proceed", out)
	}
}
