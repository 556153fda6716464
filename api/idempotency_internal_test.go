package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/contactd/contactd/auth"
	"github.com/contactd/contactd/internal/app"
	"github.com/contactd/contactd/internal/dbtest"
	"github.com/gin-gonic/gin"
)

// TestIdempotencyReleasedOn5xx: a request answered 5xx (or that panicked) keeps no response
// for its key, so that the retry does the work; a 2xx is kept and replayed.
func TestIdempotencyReleasedOn5xx(t *testing.T) {
	t.Parallel()
	a, err := app.New(dbtest.Pool(t))
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := a.Auth.Create(context.Background(), "k", []auth.Scope{auth.ScopeWrite})
	if err != nil {
		t.Fatal(err)
	}
	s := &server{app: a}
	calls := 0
	answers := []int{http.StatusServiceUnavailable, 0, http.StatusCreated}
	r := gin.New()
	r.Use(recovery(slog.New(slog.DiscardHandler)))
	r.POST("/work", func(c *gin.Context) { c.Set(apiKeyKey, key) }, s.idempotent, func(c *gin.Context) {
		status := answers[calls]
		calls++
		if status == 0 {
			panic("boom")
		}
		c.String(status, "answer %d", calls)
	})
	send := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/work", strings.NewReader(`{}`))
		req.Header.Set("Idempotency-Key", "k1")
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		return rec
	}
	for i, want := range []int{http.StatusServiceUnavailable, http.StatusInternalServerError, http.StatusCreated, http.StatusCreated} {
		if rec := send(); rec.Code != want {
			t.Fatalf("request %d: %d %s, want %d", i, rec.Code, rec.Body, want)
		}
	}
	if calls != 3 {
		t.Errorf("the handler ran %d times, want 3 (the 2xx replayed)", calls)
	}
}
