package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/contactd/contactd/api"
	"github.com/contactd/contactd/auth"
)

func TestAuth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	revoked, revokedID := b.apiKey(t, "revoked key", auth.ScopeAdmin)
	if err := b.app.Auth.Revoke(context.Background(), revokedID); err != nil {
		t.Fatalf("RevokeAPIKey: %v", err)
	}
	contactID := b.createContact(t, body{"firstName": "Ada"}).ID.String()

	tests := []struct {
		name          string
		method, path  string
		body          any
		authorization string // the whole header; "" sends none
		status        int
	}{
		{"missing token", http.MethodGet, "/api/contacts", nil, "", http.StatusUnauthorized},
		{"garbage token", http.MethodGet, "/api/contacts", nil, "Bearer not-a-token", http.StatusUnauthorized},
		{"unknown token", http.MethodGet, "/api/contacts", nil, "Bearer cdk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", http.StatusUnauthorized},
		{"empty bearer", http.MethodGet, "/api/contacts", nil, "Bearer ", http.StatusUnauthorized},
		{"wrong scheme", http.MethodGet, "/api/contacts", nil, "Basic " + b.admin, http.StatusUnauthorized},
		{"revoked token", http.MethodGet, "/api/contacts", nil, "Bearer " + revoked, http.StatusUnauthorized},
		{"missing token on write", http.MethodPost, "/api/contacts", body{"firstName": "X"}, "", http.StatusUnauthorized},
		{"read key creates contact", http.MethodPost, "/api/contacts", body{"firstName": "X"}, "Bearer " + b.reader, http.StatusForbidden},
		{"read key updates contact", http.MethodPatch, "/api/contacts/" + contactID, body{"title": "X"}, "Bearer " + b.reader, http.StatusForbidden},
		{"read key archives contact", http.MethodDelete, "/api/contacts/" + contactID, nil, "Bearer " + b.reader, http.StatusForbidden},
		{"read key creates user", http.MethodPost, "/api/users", body{"name": "X"}, "Bearer " + b.reader, http.StatusForbidden},
		{"read key creates account", http.MethodPost, "/api/accounts", body{"name": "X"}, "Bearer " + b.reader, http.StatusForbidden},
		{"read key reads", http.MethodGet, "/api/contacts/" + contactID, nil, "Bearer " + b.reader, http.StatusOK},
		{"scheme is case-insensitive", http.MethodGet, "/api/contacts", nil, "bearer " + b.reader, http.StatusOK},
		{"write key writes", http.MethodPost, "/api/users", body{"name": "W"}, "Bearer " + b.writer, http.StatusCreated},
		{"admin key writes", http.MethodPost, "/api/users", body{"name": "A"}, "Bearer " + b.admin, http.StatusCreated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := b.do(t, tt.method, tt.path, tt.body, withHeader("Authorization", tt.authorization))
			if tt.status < 400 {
				wantStatus(t, rec, tt.status)
				return
			}
			wantProblem(t, rec, tt.status)
			if tt.status == http.StatusUnauthorized && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a Bearer WWW-Authenticate challenge: %q", rec.Header().Get("WWW-Authenticate"))
			}
		})
	}
	// Nothing the rejected requests sent was written.
	if n := b.count(t, "contacts", "first_name = 'X'"); n != 0 {
		t.Errorf("%d contacts written by rejected requests", n)
	}
}

func TestOperationalRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		name, path string
		want       string
	}{
		{"healthz", "/healthz", `"status":"ok"`},
		{"readyz", "/readyz", `"status":"ready"`},
		{"metrics", "/metrics", "contactd_http_request_duration_seconds"},
	}
	// A request first, so that the metrics have a sample.
	b.do(t, http.MethodGet, "/healthz", nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := b.do(t, http.MethodGet, tt.path, nil, as(""))
			wantStatus(t, rec, http.StatusOK)
			if !strings.Contains(rec.Body.String(), tt.want) {
				t.Errorf("body lacks %s: %s", tt.want, rec.Body)
			}
		})
	}
	// Load balancers' probes often send HEAD.
	for _, path := range []string{"/healthz", "/readyz"} {
		wantStatus(t, b.do(t, http.MethodHead, path, nil, as("")), http.StatusOK)
	}
}

func TestReadyzUnavailable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.pool.Close() // the database no longer answers
	rec := b.do(t, http.MethodGet, "/readyz", nil, as(""))
	wantProblem(t, rec, http.StatusServiceUnavailable)
}

// TestRoutingProblems checks that what the router itself refuses is a problem document too.
func TestRoutingProblems(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.createContact(t, body{"firstName": "Ada"}).ID.String()
	tests := []struct {
		name, method, path string
		status             int
	}{
		{"malformed contact id", http.MethodGet, "/api/contacts/not-a-uuid", http.StatusNotFound},
		{"malformed id on update", http.MethodPatch, "/api/contacts/123", http.StatusNotFound},
		{"malformed id on archive", http.MethodDelete, "/api/contacts/123", http.StatusNotFound},
		{"malformed id on audit", http.MethodGet, "/api/contacts/123/audit", http.StatusNotFound},
		{"malformed id on relationships", http.MethodGet, "/api/contacts/123/relationships", http.StatusNotFound},
		{"malformed relationship id", http.MethodDelete, "/api/contacts/" + id + "/relationships/xyz", http.StatusNotFound},
		{"malformed user id", http.MethodGet, "/api/users/xyz", http.StatusNotFound},
		{"malformed account id", http.MethodGet, "/api/accounts/xyz", http.StatusNotFound},
		{"unknown contact", http.MethodGet, "/api/contacts/00000000-0000-7000-8000-000000000000", http.StatusNotFound},
		{"unknown route", http.MethodGet, "/nope", http.StatusNotFound},
		{"unknown api route", http.MethodGet, "/api/nope", http.StatusNotFound},
		{"wrong method on collection", http.MethodPut, "/api/contacts", http.StatusMethodNotAllowed},
		{"wrong method on item", http.MethodPost, "/api/contacts/" + id, http.StatusMethodNotAllowed},
		{"wrong method on healthz", http.MethodPost, "/healthz", http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var in any
			if tt.method != http.MethodGet && tt.method != http.MethodDelete {
				in = body{"firstName": "B"}
			}
			rec := b.do(t, tt.method, tt.path, in)
			wantProblem(t, rec, tt.status)
		})
	}
}

// TestRequestID checks that a sane client request id is echoed into the header and problem body,
// and an unsafe one is replaced.
func TestRequestID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := b.do(t, http.MethodGet, "/api/contacts/x", nil, withHeader("X-Request-Id", "abc-123"))
	p := wantProblem(t, rec, http.StatusNotFound)
	if got := rec.Header().Get("X-Request-Id"); got != "abc-123" || p.RequestID != "abc-123" {
		t.Errorf("request id header %q, body %q; want abc-123", got, p.RequestID)
	}
	rec = b.do(t, http.MethodGet, "/healthz", nil, withHeader("X-Request-Id", "bad id\twith spaces"))
	if got := rec.Header().Get("X-Request-Id"); got == "" || strings.ContainsAny(got, " \t") {
		t.Errorf("unsafe request id echoed as %q", got)
	}
}

// TestMethodNotAllowedAllow checks the Allow header RFC 9110 requires on a 405.
func TestMethodNotAllowedAllow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := b.do(t, http.MethodPut, "/api/contacts", body{})
	wantProblem(t, rec, http.StatusMethodNotAllowed)
	allow := rec.Header().Get("Allow")
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		if !strings.Contains(allow, m) {
			t.Errorf("405 Allow header %q lacks %s", allow, m)
		}
	}
}

// TestMalformedQuery checks that a query string that cannot be decoded is a 400 naming the
// parameter on every route, rather than a request served as if the parameter were absent.
func TestMalformedQuery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.createContact(t, body{"firstName": "Ada"}).ID.String()
	tests := []struct {
		name, method, path string
		body               any
		fields             []string
	}{
		{"garbage cursor", http.MethodGet, "/api/contacts?cursor=%%%garbage", nil, []string{"cursor"}},
		{"every bad parameter named", http.MethodGet, "/api/contacts?limit=1&cursor=%zz&company=%&status=active", nil, []string{"cursor", "company"}},
		{"escaped name", http.MethodGet, "/api/contacts?c%75rsor=%", nil, []string{"cursor"}},
		{"semicolon separator", http.MethodGet, "/api/contacts?limit=1;status=all", nil, []string{"limit"}},
		{"create", http.MethodPost, "/api/contacts?allowDuplicate=%%", body{"firstName": "X"}, []string{"allowDuplicate"}},
		{"update", http.MethodPatch, "/api/contacts/" + id + "?allowDuplicate=%G0", body{"firstName": "X"}, []string{"allowDuplicate"}},
		{"get", http.MethodGet, "/api/contacts/" + id + "?x=%", nil, []string{"x"}},
		{"relationship history", http.MethodGet, "/api/contacts/" + id + "/relationships?history=%", nil, []string{"history"}},
		{"audit", http.MethodGet, "/api/contacts/" + id + "/audit?cursor=%1", nil, []string{"cursor"}},
		{"export", http.MethodGet, "/api/contacts/export?format=%", nil, []string{"format"}},
		{"healthz", http.MethodGet, "/healthz?probe=%", nil, []string{"probe"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := b.do(t, tt.method, tt.path, tt.body)
			p := wantProblem(t, rec, http.StatusBadRequest)
			wantFields(t, p, tt.fields...)
			if !strings.Contains(p.Detail, "query") {
				t.Errorf("detail %q does not say the query is the problem", p.Detail)
			}
		})
	}
	t.Run("escaped percent signs are fine", func(t *testing.T) {
		t.Parallel()
		// %25 is a literal %: the cursor decodes, and is then refused as no cursor of ours.
		rec := b.do(t, http.MethodGet, "/api/contacts?cursor=%25%25%25garbage", nil)
		wantFields(t, wantProblem(t, rec, http.StatusUnprocessableEntity), "cursor")
	})
	t.Cleanup(func() {
		if n := b.count(t, "contacts", "first_name = 'X'"); n != 0 {
			t.Errorf("%d contacts written by requests with malformed queries", n)
		}
	})
}

// syncBuffer is a log destination safe for the router's concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Split(strings.TrimSpace(b.buf.String()), "\n")
}

// TestInternalErrorIsLoggedNotShown: a handler whose database is gone answers 503 with a
// problem document that names the request id and nothing of the cause, and the configured
// logger (not the process default) gets a JSON line with the request id and the cause.
func TestInternalErrorIsLoggedNotShown(t *testing.T) {
	t.Parallel()
	b := setup(t)
	logs := &syncBuffer{}
	h := api.NewRouter(api.Config{App: b.app, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	// One request authenticates the key (it is cached), then the database goes away.
	if rec := serve(t, h, http.MethodGet, "/api/duplicates", nil, as(b.admin)); rec.Code != http.StatusOK {
		t.Fatalf("before closing the pool: %d %s", rec.Code, rec.Body)
	}
	b.pool.Close()
	req := httptest.NewRequest(http.MethodGet, "/api/duplicates", nil)
	as(b.admin)(req)
	req.Header.Set("X-Request-Id", "broken-db-1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)

	p := wantProblem(t, rec, http.StatusServiceUnavailable)
	if p.RequestID != "broken-db-1" || strings.Contains(strings.ToLower(rec.Body.String()), "pool") {
		t.Errorf("problem %s: want the request id and no internal details", rec.Body)
	}
	var found bool
	for _, line := range logs.lines() {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if entry["msg"] == "database unavailable" && entry["level"] == "WARN" && entry["request_id"] == "broken-db-1" &&
			strings.Contains(fmt.Sprint(entry["err"]), "closed pool") {
			found = true
		}
	}
	if !found {
		t.Errorf("no JSON line with the request id and the cause in the configured log:\n%s", strings.Join(logs.lines(), "\n"))
	}
}
