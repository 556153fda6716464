package idempotency_test

import (
	"errors"

	"context"
	"github.com/contactd/contactd/internal/db"
	"github.com/jackc/pgx/v5"
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

// TestWorkCommittedWithoutResponse: a key whose work committed (marked in the work's
// transaction) but whose response was never stored is not claimed again: a repeat is told the
// work was done, while a key whose transaction only read, or rolled back, is claimed again.
func TestWorkCommittedWithoutResponse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.DB(t)
	s := idempotency.NewStore(d)
	apiKey := uuid.New()
	if _, err := d.Pool.Exec(ctx, `CREATE TABLE work (n int)`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key, sql string
		fail     bool
		want     idempotency.Outcome
	}{
		{"wrote", `INSERT INTO work VALUES (1)`, false, idempotency.Done},
		{"read", `SELECT 1`, false, idempotency.Proceed},
		{"rolled-back", `INSERT INTO work VALUES (2)`, true, idempotency.Proceed},
	} {
		if out, _, err := s.Begin(ctx, apiKey, tc.key, []byte("h")); err != nil || out != idempotency.Proceed {
			t.Fatalf("%s: claim %v, %v", tc.key, out, err)
		}
		hooked := db.WithBeforeCommit(ctx, func(ctx context.Context, tx pgx.Tx) error {
			return idempotency.MarkWorkTx(ctx, tx, apiKey, tc.key)
		})
		err := d.InTx(hooked, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, tc.sql); err != nil {
				return err
			}
			if tc.fail {
				return errors.New("the work failed")
			}
			return nil
		})
		if (err != nil) != tc.fail {
			t.Fatalf("%s: work: %v", tc.key, err)
		}
		// The process dies here: no Complete, no Release. Its lock runs out.
		if _, err := d.Pool.Exec(ctx, `UPDATE idempotency_keys SET locked_until = now() - interval '1 second' WHERE key = $1`, tc.key); err != nil {
			t.Fatal(err)
		}
		if out, _, err := s.Begin(ctx, apiKey, tc.key, []byte("h")); err != nil || out != tc.want {
			t.Errorf("%s: a repeat got %v (%v), want %v", tc.key, out, err, tc.want)
		}
	}
	// A request whose work committed and that then failed (a 5xx) keeps its key: Release
	// tells a repeat at once that the work was done.
	if out, _, _ := s.Begin(ctx, apiKey, "failed-after", []byte("h")); out != idempotency.Proceed {
		t.Fatal("claim failed-after")
	}
	hooked := db.WithBeforeCommit(ctx, func(ctx context.Context, tx pgx.Tx) error {
		return idempotency.MarkWorkTx(ctx, tx, apiKey, "failed-after")
	})
	if err := d.InTx(hooked, func(tx pgx.Tx) error { _, err := tx.Exec(ctx, `INSERT INTO work VALUES (3)`); return err }); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, apiKey, "failed-after"); err != nil {
		t.Fatal(err)
	}
	if out, _, err := s.Begin(ctx, apiKey, "failed-after", []byte("h")); err != nil || out != idempotency.Done {
		t.Errorf("after a release of committed work: %v (%v), want Done", out, err)
	}
}
