package api_test

import (
	"log/slog"
	"net/http"
	"strconv"
	"testing"

	"github.com/contactd/contactd/api"
)

// TestRateLimit: a key over its burst is answered 429 with a Retry-After in whole seconds and
// nothing is done; another key has a bucket of its own.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	h := api.NewRouter(api.Config{App: b.app, Ready: b.app.DB.Ping, Logger: slog.New(slog.DiscardHandler), RateLimit: 0.5, RateBurst: 3})
	for i := range 3 {
		if rec := serve(t, h, http.MethodGet, "/api/contacts", nil, as(b.writer)); rec.Code != http.StatusOK {
			t.Fatalf("request %d within the burst: %d %s", i, rec.Code, rec.Body)
		}
	}
	rec := serve(t, h, http.MethodPost, "/api/contacts", map[string]any{"firstName": "Over"}, as(b.writer))
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("over the burst: %d %s, want 429", rec.Code, rec.Body)
	}
	if s, err := strconv.Atoi(rec.Header().Get("Retry-After")); err != nil || s < 1 || s > 2 {
		t.Errorf("Retry-After %q, want 1 or 2 seconds (a token every 2 s)", rec.Header().Get("Retry-After"))
	}
	if rec := serve(t, h, http.MethodGet, "/api/contacts", nil, as(b.reader)); rec.Code != http.StatusOK {
		t.Errorf("another key: %d, want 200 (its own bucket)", rec.Code)
	}
	var n int
	if err := b.pool.QueryRow(t.Context(), `SELECT count(*) FROM contacts`).Scan(&n); err != nil || n != 0 {
		t.Errorf("contacts after a refused create: %d (%v), want 0", n, err)
	}
}
