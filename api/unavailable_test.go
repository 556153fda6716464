package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/contactd/contactd/internal/app"
	"github.com/contactd/contactd/internal/dbtest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TestDatabaseUnavailable: while the database cannot be reached, every request that needs it
// is answered 503 with Retry-After (never 500), and /readyz says not ready; the same request
// succeeds again once the database is back.
func TestDatabaseUnavailable(t *testing.T) {
	t.Parallel()
	contact := map[string]any{"firstName": "Ada", "email": "ada@example.com"}
	wantUnavailable := func(t *testing.T, h http.Handler, method, path string, body any, opts ...reqOpt) {
		t.Helper()
		rec := serve(t, h, method, path, body, opts...)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("%s %s: %d (Retry-After %q) %s, want 503 with Retry-After", method, path, rec.Code, rec.Header().Get("Retry-After"), rec.Body)
		}
	}

	t.Run("dead port", func(t *testing.T) {
		t.Parallel()
		pool, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:1/contactd?sslmode=disable&connect_timeout=2")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		a, err := app.New(pool)
		if err != nil {
			t.Fatal(err)
		}
		h := newRouter(a)
		wantUnavailable(t, h, http.MethodPost, "/api/contacts", contact, as("cdk_unknown-but-well-formed"))
		rec := serve(t, h, http.MethodGet, "/readyz", nil)
		if rec.Code != http.StatusServiceUnavailable {
			t.Errorf("/readyz: %d, want 503", rec.Code)
		}
	})

	t.Run("closed pool", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		// The key is cached by the first request, so the next ones fail on the data, not on the key.
		if rec := b.do(t, http.MethodGet, "/api/contacts", nil); rec.Code != http.StatusOK {
			t.Fatalf("list: %d %s", rec.Code, rec.Body)
		}
		b.pool.Close()
		wantUnavailable(t, b.handler, http.MethodPost, "/api/contacts", contact, as(b.admin))
		wantUnavailable(t, b.handler, http.MethodGet, "/api/contacts", nil, as(b.admin))
	})

	t.Run("connections refused, then back", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		if rec := b.do(t, http.MethodGet, "/api/contacts", nil); rec.Code != http.StatusOK {
			t.Fatalf("list: %d %s", rec.Code, rec.Body)
		}
		ctx := context.Background()
		admin, err := pgx.Connect(ctx, dbtest.ServerURL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { admin.Close(ctx) })
		name := b.pool.Config().ConnConfig.Database
		allow := func(on bool) {
			t.Helper()
			if _, err := admin.Exec(ctx, `ALTER DATABASE `+pgx.Identifier{name}.Sanitize()+` WITH ALLOW_CONNECTIONS `+map[bool]string{true: "true", false: "false"}[on]); err != nil {
				t.Fatal(err)
			}
		}
		allow(false)
		t.Cleanup(func() { allow(true) })
		// Every open connection is killed, as a restart would; new ones are refused.
		if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, name); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			wantUnavailable(t, b.handler, http.MethodPost, "/api/contacts", contact, as(b.admin))
		}
		allow(true)
		if rec := b.do(t, http.MethodPost, "/api/contacts", contact); rec.Code != http.StatusCreated {
			t.Fatalf("after the database is back: %d %s", rec.Code, rec.Body)
		}
	})
}
