package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/contactd/contactd/api"
	"github.com/contactd/contactd/auth"
	"github.com/contactd/contactd/internal/app"
	"github.com/contactd/contactd/internal/dbtest"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// testBundle is what an API test needs: a router over a fresh database and keys of each scope.
type testBundle struct {
	pool    *pgxpool.Pool
	app     *app.App
	handler http.Handler
	// Tokens of API keys with the admin, write and read scopes.
	admin, writer, reader string
	// writerID is the id of the writer key, as audit actors name it.
	writerID uuid.UUID
}

// setup gives the test a fresh migrated database, the real router over it and three API keys.
func setup(t testing.TB) *testBundle {
	t.Helper()
	pool := dbtest.Pool(t)
	a, err := app.New(pool)
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	b := &testBundle{pool: pool, app: a, handler: newRouter(a)}
	b.admin, _ = b.apiKey(t, "admin key", auth.ScopeAdmin)
	b.writer, b.writerID = b.apiKey(t, "writer key", auth.ScopeWrite)
	b.reader, _ = b.apiKey(t, "reader key", auth.ScopeRead)
	return b
}

func newRouter(a *app.App) http.Handler {
	return api.NewRouter(api.Config{
		App:    a,
		Ready:  a.DB.Ping,
		Logger: slog.New(slog.DiscardHandler),
	})
}

// apiKey creates an API key and returns its token and id.
func (b *testBundle) apiKey(t testing.TB, name string, scopes ...auth.Scope) (string, uuid.UUID) {
	t.Helper()
	k, token, err := b.app.Auth.Create(context.Background(), name, scopes)
	if err != nil {
		t.Fatalf("CreateAPIKey: %v", err)
	}
	return token, k.ID
}

// reqOpt adjusts a request before it is served.
type reqOpt func(*http.Request)

// as sends the request with token; an empty token sends no Authorization header.
func as(token string) reqOpt {
	return func(r *http.Request) {
		r.Header.Del("Authorization")
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
	}
}

func withHeader(key, value string) reqOpt { return func(r *http.Request) { r.Header.Set(key, value) } }

// do serves one request through the router, as the admin key unless an option says otherwise.
// body is sent as is when it is a string or []byte, as JSON otherwise, and not at all when nil.
// Every response to a route of the OpenAPI document is checked against the document.
func (b *testBundle) do(t testing.TB, method, path string, body any, opts ...reqOpt) *httptest.ResponseRecorder {
	t.Helper()
	return serve(t, b.handler, method, path, body, append([]reqOpt{as(b.admin)}, opts...)...)
}

func serve(t testing.TB, h http.Handler, method, path string, body any, opts ...reqOpt) *httptest.ResponseRecorder {
	t.Helper()
	var data []byte
	switch v := body.(type) {
	case nil:
	case string:
		data = []byte(v)
	case []byte:
		data = v
	default:
		var err error
		if data, err = json.Marshal(v); err != nil {
			t.Fatalf("marshal body: %v", err)
		}
	}
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(data)
	}
	req := httptest.NewRequest(method, path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(req)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
		t.Errorf("%s %s: status %d (never a 5xx for a client's request): %s", method, path, rec.Code, rec.Body)
	}
	if rec.Code >= 400 {
		// Every error, wherever it comes from, is a problem document.
		var p problem
		if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" ||
			json.Unmarshal(rec.Body.Bytes(), &p) != nil || p.Type == "" || p.Title == "" || p.Status != rec.Code {
			t.Errorf("%s %s: %d is not a problem+json document (Content-Type %q): %.300s", method, path, rec.Code, ct, rec.Body)
		}
	}
	checkAgainstSpec(t, req, rec)
	return rec
}

var specRouter = sync.OnceValues(func() (routers.Router, error) {
	doc, err := loadSpec(context.Background())
	if err != nil {
		return nil, err
	}
	return legacy.NewRouter(doc)
})

func loadSpec(ctx context.Context) (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
	if err != nil {
		return nil, err
	}
	return doc, doc.Validate(ctx)
}

// checkAgainstSpec validates a response against the OpenAPI document when the document has the
// request's route: its status must be documented and its headers and body must match.
func checkAgainstSpec(t testing.TB, req *http.Request, rec *httptest.ResponseRecorder) {
	t.Helper()
	if err := validateAgainstSpec(req, rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
		t.Errorf("%s %s: response %d does not match openapi.yaml: %v\nbody: %s", req.Method, req.URL, rec.Code, err, rec.Body)
	}
}

func validateAgainstSpec(req *http.Request, status int, header http.Header, body []byte) error {
	router, err := specRouter()
	if err != nil {
		return err
	}
	route, params, err := router.FindRoute(req)
	if err != nil || route.Method != req.Method ||
		strings.Count(route.Path, "/") != strings.Count(strings.TrimSuffix(req.URL.Path, "/"), "/") {
		return nil // not a documented route: the routing tests cover those
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	return openapi3filter.ValidateResponse(req.Context(), in)
}

// problem is an RFC 9457 problem document as the API sends it.
type problem struct {
	Type              string `json:"type"`
	Title             string `json:"title"`
	Status            int    `json:"status"`
	Detail            string `json:"detail"`
	ExistingContactID string `json:"existingContactId"`
	RequestID         string `json:"requestId"`
	Errors            []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// fields returns the names of the problem's fields, sorted.
func (p problem) fields() []string {
	out := make([]string, 0, len(p.Errors))
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	slices.Sort(out)
	return out
}

// wantStatus fails the test unless the response has status want.
func wantStatus(t testing.TB, rec *httptest.ResponseRecorder, want int) {
	t.Helper()
	if rec.Code != want {
		t.Fatalf("status %d, want %d; body: %s", rec.Code, want, rec.Body)
	}
}

// wantProblem checks that the response is a problem+json document with status and returns it.
func wantProblem(t testing.TB, rec *httptest.ResponseRecorder, status int) problem {
	t.Helper()
	wantStatus(t, rec, status)
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	var p problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("problem body: %v: %s", err, rec.Body)
	}
	if p.Type == "" || p.Title == "" || p.Status != status {
		t.Errorf("problem %+v lacks type or title, or its status is not %d", p, status)
	}
	return p
}

// wantFields checks that a problem names exactly the fields want (in any order; a field may
// have several messages).
func wantFields(t testing.TB, p problem, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := slices.Compact(p.fields()); !slices.Equal(got, want) {
		t.Errorf("problem fields %q, want %q (errors: %+v)", got, want, p.Errors)
	}
}

func decode[T any](t testing.TB, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %T: %v: %s", v, err, rec.Body)
	}
	return v
}

// contactOut is a contact as the API answers it.
type contactOut struct {
	ID          uuid.UUID `json:"id"`
	FirstName   *string   `json:"firstName"`
	LastName    *string   `json:"lastName"`
	Email       *string   `json:"email"`
	Phone       *string   `json:"phone"`
	Title       *string   `json:"title"`
	Company     *string   `json:"company"`
	Status      string    `json:"status"`
	Preferences struct {
		CommunicationMethods []string `json:"communicationMethods"`
		Notifications        struct {
			Email *bool `json:"email"`
			SMS   *bool `json:"sms"`
		} `json:"notifications"`
	} `json:"preferences"`
	Relationships []relationshipOut `json:"relationships"`
	Tags          []string          `json:"tags"`
	Score         *float64          `json:"score"`
	Normalized    struct {
		Email          *string    `json:"email"`
		Phone          *string    `json:"phone"`
		PhoneExtension *string    `json:"phoneExtension"`
		PhoneValid     *bool      `json:"phoneValid"`
		At             *time.Time `json:"at"`
	} `json:"normalized"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

type relationshipOut struct {
	ID         uuid.UUID  `json:"id"`
	EntityType string     `json:"entityType"`
	EntityID   uuid.UUID  `json:"entityId"`
	Role       string     `json:"role"`
	IsPrimary  bool       `json:"isPrimary"`
	CreatedAt  time.Time  `json:"createdAt"`
	RemovedAt  *time.Time `json:"removedAt"`
}

type page[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"nextCursor"`
}

type entityOut struct {
	ID        uuid.UUID `json:"id"`
	Name      string    `json:"name"`
	Email     *string   `json:"email"`
	Domain    *string   `json:"domain"`
	CreatedAt time.Time `json:"createdAt"`
}

type body = map[string]any

// createContact creates a contact through the API and returns it.
func (b *testBundle) createContact(t testing.TB, in body) contactOut {
	t.Helper()
	rec := b.do(t, http.MethodPost, "/api/contacts?allowDuplicate=true", in)
	wantStatus(t, rec, http.StatusCreated)
	return decode[contactOut](t, rec)
}

func (b *testBundle) getContact(t testing.TB, id uuid.UUID) contactOut {
	t.Helper()
	rec := b.do(t, http.MethodGet, "/api/contacts/"+id.String(), nil)
	wantStatus(t, rec, http.StatusOK)
	return decode[contactOut](t, rec)
}

func (b *testBundle) createUser(t testing.TB, name string) uuid.UUID {
	t.Helper()
	rec := b.do(t, http.MethodPost, "/api/users", body{"name": name, "email": strings.ToLower(name) + "@example.com"})
	wantStatus(t, rec, http.StatusCreated)
	return decode[entityOut](t, rec).ID
}

func (b *testBundle) createAccount(t testing.TB, name string) uuid.UUID {
	t.Helper()
	rec := b.do(t, http.MethodPost, "/api/accounts", body{"name": name, "domain": strings.ToLower(name) + ".example"})
	wantStatus(t, rec, http.StatusCreated)
	return decode[entityOut](t, rec).ID
}

// count returns the number of rows of a table that match a condition.
func (b *testBundle) count(t testing.TB, table, where string, args ...any) int {
	t.Helper()
	var n int
	// The table and condition are test constants, never input.
	if err := b.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table+" WHERE "+where, args...).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return b
}
