package api_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/contactd/contactd/api"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/gin-gonic/gin"
)

func TestOpenAPIDocumentIsValid(t *testing.T) {
	t.Parallel()
	doc, err := loadSpec(context.Background())
	if err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.0") {
		t.Errorf("openapi %q, want 3.0.x", doc.OpenAPI)
	}
	if doc.Components == nil || doc.Components.SecuritySchemes["bearerAuth"] == nil {
		t.Fatal("no bearerAuth security scheme")
	}
	if s := doc.Components.SecuritySchemes["bearerAuth"].Value; s.Type != "http" || s.Scheme != "bearer" {
		t.Errorf("bearerAuth is %s/%s, want http/bearer", s.Type, s.Scheme)
	}
	problem := doc.Components.Schemas["Problem"]
	if problem == nil || problem.Value.Properties["errors"] == nil {
		t.Fatal("no Problem schema with errors[]")
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if !strings.HasPrefix(path, "/api/") {
				if op.Security == nil || len(*op.Security) != 0 {
					t.Errorf("%s %s: an operational route must not require auth in the document", method, path)
				}
				continue
			}
			scope, _ := op.Extensions["x-required-scope"].(string)
			want := "write"
			if method == http.MethodGet {
				want = "read"
			}
			if scope != want {
				t.Errorf("%s %s: x-required-scope %q, want %q", method, path, scope, want)
			}
			for _, status := range []string{"401", "403", "429", "503"} {
				if op.Responses.Value(status) == nil {
					t.Errorf("%s %s: no %s response", method, path, status)
				}
			}
			if op.RequestBody != nil && op.Responses.Value("400") == nil {
				t.Errorf("%s %s: takes a body but documents no 400", method, path)
			}
		}
	}
}

// ginParam matches a gin path parameter such as :contactId.
var ginParam = regexp.MustCompile(`:([A-Za-z]+)`)

// TestOpenAPIDocumentsEveryRoute checks that the routes the router registers and the operations
// the document describes are the same set.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	t.Parallel()
	doc, err := loadSpec(context.Background())
	if err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	engine, ok := api.NewRouter(api.Config{Logger: slog.New(slog.DiscardHandler)}).(*gin.Engine)
	if !ok {
		t.Fatal("NewRouter does not return a *gin.Engine")
	}
	var registered []string
	for _, r := range engine.Routes() {
		registered = append(registered, r.Method+" "+ginParam.ReplaceAllString(r.Path, "{$1}"))
	}
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	slices.Sort(registered)
	slices.Sort(documented)
	for _, r := range registered {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in openapi.yaml", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(registered, d) {
			t.Errorf("openapi.yaml documents %s, which the router does not register", d)
		}
	}
	if len(registered) < 20 {
		t.Errorf("only %d routes registered: %q", len(registered), registered)
	}
}

func TestOpenAPIIsServed(t *testing.T) {
	t.Parallel()
	rec := serve(t, api.NewRouter(api.Config{Logger: slog.New(slog.DiscardHandler)}), http.MethodGet, "/openapi.yaml", nil)
	wantStatus(t, rec, http.StatusOK)
	if ct := rec.Header().Get("Content-Type"); ct != "application/yaml" {
		t.Errorf("Content-Type %q, want application/yaml", ct)
	}
	if !bytes.Equal(rec.Body.Bytes(), api.OpenAPI) {
		t.Error("/openapi.yaml is not the embedded document")
	}
}

// TestOpenAPIResponses validates real responses against the document explicitly (every
// response of the other tests is validated too, by do), and shows the validator catches a
// response that breaks it.
func TestOpenAPIResponses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acct := b.createAccount(t, "Acme")
	created := b.do(t, http.MethodPost, "/api/contacts", body{
		"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com", "phone": "+44 20 7946 0958",
		"preferences":   body{"communicationMethods": []string{"email"}, "notifications": body{"sms": true}},
		"relationships": []body{{"type": "account", "entityId": acct, "role": "cto", "isPrimary": true}},
	})
	wantStatus(t, created, http.StatusCreated)
	id := decode[contactOut](t, created).ID.String()

	tests := []struct {
		name, method, path string
		body               any
		status             int
	}{
		{"create contact", http.MethodPost, "/api/contacts", body{"email": "grace@example.com"}, http.StatusCreated},
		{"get contact", http.MethodGet, "/api/contacts/" + id, nil, http.StatusOK},
		{"list contacts", http.MethodGet, "/api/contacts?limit=1", nil, http.StatusOK},
		{"invalid contact", http.MethodPost, "/api/contacts", body{"email": "nope", "phone": "12"}, http.StatusUnprocessableEntity},
		{"duplicate contact", http.MethodPost, "/api/contacts", body{"email": "ADA@EXAMPLE.COM"}, http.StatusConflict},
		{"audit", http.MethodGet, "/api/contacts/" + id + "/audit", nil, http.StatusOK},
		{"relationships", http.MethodGet, "/api/contacts/" + id + "/relationships?history=true", nil, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var in *bytes.Reader
			if tt.body != nil {
				in = bytes.NewReader(mustJSON(t, tt.body))
			} else {
				in = bytes.NewReader(nil)
			}
			req := httptest.NewRequest(tt.method, tt.path, in)
			req.Header.Set("Authorization", "Bearer "+b.admin)
			rec := httptest.NewRecorder()
			b.handler.ServeHTTP(rec, req)
			wantStatus(t, rec, tt.status)
			if err := validateAgainstSpec(req, rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
				t.Errorf("response does not match openapi.yaml: %v\n%s", err, rec.Body)
			}
			// The validator is not vacuous: the same response without a required field fails.
			broken := bytes.Replace(rec.Body.Bytes(), []byte(`"status":`), []byte(`"statu":`), 1)
			if err := validateAgainstSpec(req, rec.Code, rec.Header(), broken); err == nil && tt.method != http.MethodGet {
				t.Errorf("a body without status passed validation: %s", broken)
			}
		})
	}

	t.Run("undocumented status fails", func(t *testing.T) {
		t.Parallel()
		req := httptest.NewRequest(http.MethodGet, "/api/contacts/"+id, nil)
		err := validateAgainstSpec(req, http.StatusTeapot, http.Header{"Content-Type": {"application/problem+json"}}, []byte(`{}`))
		var re *openapi3filter.ResponseError
		if err == nil || !asResponseError(err, &re) {
			t.Errorf("status 418 passed validation (err %v)", err)
		}
	})
}

func asResponseError(err error, target **openapi3filter.ResponseError) bool {
	return errors.As(err, target)
}

// TestOpenAPIRequestBodies checks the document's request schemas against the server: a body the
// server accepts must be valid by the document, and one it refuses as unknown fields or wrong
// JSON types must be invalid by it.
func TestOpenAPIRequestBodies(t *testing.T) {
	t.Parallel()
	b := setup(t)
	user, acct := b.createUser(t, "Owner"), b.createAccount(t, "Acme")
	id := b.createContact(t, body{"firstName": "Ada"}).ID.String()
	related := b.createContact(t, body{"firstName": "Bo", "relationships": []body{{"type": "account", "entityId": acct}}})
	relPath := "/api/contacts/" + related.ID.String() + "/relationships/" + related.Relationships[0].ID.String()
	router, err := specRouter()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, path string
		body               body
		status             int
	}{
		{"full contact", http.MethodPost, "/api/contacts?allowDuplicate=true", body{
			"firstName": "Ada", "lastName": "L", "email": "ada@example.com", "phone": "555-0100", "title": "CTO", "company": "Acme",
			"preferences":   body{"communicationMethods": []string{"email", "sms"}, "notifications": body{"email": true, "sms": nil}},
			"relationships": []body{{"type": "user", "entityId": user, "role": "owner"}, {"entityType": "account", "entityId": acct, "isPrimary": true, "role": nil}},
		}, http.StatusCreated},
		{"contact with nulls", http.MethodPost, "/api/contacts", body{"firstName": "Bo", "email": nil, "relationships": nil, "preferences": nil}, http.StatusCreated},
		{"contact with unknown field", http.MethodPost, "/api/contacts", body{"firstName": "Bo", "nick": "b"}, http.StatusBadRequest},
		{"contact with unknown nested field", http.MethodPost, "/api/contacts", body{"firstName": "Bo", "preferences": body{"push": true}}, http.StatusBadRequest},
		{"contact with wrong type", http.MethodPost, "/api/contacts", body{"firstName": 1}, http.StatusUnprocessableEntity},
		{"update", http.MethodPut, "/api/contacts/" + id, body{"title": nil, "preferences": body{"notifications": body{"sms": true}}}, http.StatusOK},
		{"patch", http.MethodPatch, "/api/contacts/" + id, body{"company": "", "preferences": body{"notifications": nil}}, http.StatusOK},
		{"update with unknown field", http.MethodPatch, "/api/contacts/" + id, body{"status": "active"}, http.StatusBadRequest},
		{"relationship", http.MethodPost, "/api/contacts/" + id + "/relationships", body{"entityType": "account", "entityId": acct, "role": "buyer", "isPrimary": false}, http.StatusCreated},
		{"relationship with wrong type", http.MethodPost, "/api/contacts/" + id + "/relationships", body{"entityType": "user", "entityId": user, "isPrimary": "no"}, http.StatusUnprocessableEntity},
		{"relationship change with unknown field", http.MethodPatch, relPath, body{"entityId": acct}, http.StatusBadRequest},
		{"relationship change with wrong type", http.MethodPatch, relPath, body{"role": "cfo", "isPrimary": "no"}, http.StatusUnprocessableEntity},
		{"relationship change", http.MethodPatch, relPath, body{"role": "cfo", "isPrimary": true}, http.StatusOK},
		{"user", http.MethodPost, "/api/users", body{"name": "Grace", "email": nil}, http.StatusCreated},
		{"user with unknown field", http.MethodPost, "/api/users", body{"name": "Grace", "role": "x"}, http.StatusBadRequest},
		{"account", http.MethodPost, "/api/accounts", body{"name": "Initech", "domain": "initech.example"}, http.StatusCreated},
		{"account with wrong type", http.MethodPost, "/api/accounts", body{"name": "Initech", "domain": 5}, http.StatusUnprocessableEntity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := b.do(t, tt.method, tt.path, tt.body)
			wantStatus(t, rec, tt.status)

			data := mustJSON(t, tt.body)
			req := httptest.NewRequest(tt.method, tt.path, bytes.NewReader(data))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+b.admin)
			route, params, err := router.FindRoute(req)
			if err != nil {
				t.Fatalf("no route in the document: %v", err)
			}
			err = openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{
				Request: req, PathParams: params, Route: route,
				Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
			})
			accepted := rec.Code < 300
			if accepted && err != nil {
				t.Errorf("the server accepts the body but the document refuses it: %v", err)
			}
			if !accepted && err == nil {
				t.Errorf("the server refuses the body (%d) but the document accepts it", rec.Code)
			}
		})
	}
}
