package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestUsersAndAccounts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		name       string
		path       string
		in         any
		status     int
		fields     []string
		wantName   string
		wantDetail func(entityOut) string // the email or domain as stored
		detail     string
	}{
		{"user", "/api/users", body{"name": " Grace ", "email": "grace@example.com"}, http.StatusCreated, nil,
			"Grace", func(e entityOut) string { return deref(e.Email).(string) }, "grace@example.com"},
		{"user without email", "/api/users", body{"name": "Linus"}, http.StatusCreated, nil,
			"Linus", func(e entityOut) string { return "" }, ""},
		{"user without name", "/api/users", body{"email": "x@example.com"}, http.StatusUnprocessableEntity, []string{"name"}, "", nil, ""},
		{"user with bad email and long name", "/api/users", body{"name": strings.Repeat("n", 201), "email": "x"},
			http.StatusUnprocessableEntity, []string{"name", "email"}, "", nil, ""},
		{"user with unknown field", "/api/users", body{"name": "A", "domain": "x.org"}, http.StatusBadRequest, []string{"domain"}, "", nil, ""},
		{"account", "/api/accounts", body{"name": "Acme", "domain": "Acme.Example."}, http.StatusCreated, nil,
			"Acme", func(e entityOut) string { return deref(e.Domain).(string) }, "acme.example"},
		{"account with IDN domain", "/api/accounts", body{"name": "Bücher", "domain": "Bücher.example"}, http.StatusCreated, nil,
			"Bücher", func(e entityOut) string { return deref(e.Domain).(string) }, "xn--bcher-kva.example"},
		{"account without name", "/api/accounts", body{"domain": "acme.example"}, http.StatusUnprocessableEntity, []string{"name"}, "", nil, ""},
		{"account with bad domain", "/api/accounts", body{"name": "A", "domain": "no dots"}, http.StatusUnprocessableEntity, []string{"domain"}, "", nil, ""},
		{"account with wrong types", "/api/accounts", body{"name": 1, "domain": false}, http.StatusUnprocessableEntity, []string{"name", "domain"}, "", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := b.do(t, http.MethodPost, tt.path, tt.in, as(b.writer))
			if tt.status != http.StatusCreated {
				wantFields(t, wantProblem(t, rec, tt.status), tt.fields...)
				return
			}
			wantStatus(t, rec, http.StatusCreated)
			created := decode[entityOut](t, rec)
			if loc := rec.Header().Get("Location"); loc != tt.path+"/"+created.ID.String() {
				t.Errorf("Location %q", loc)
			}
			rec = b.do(t, http.MethodGet, tt.path+"/"+created.ID.String(), nil, as(b.reader))
			wantStatus(t, rec, http.StatusOK)
			got := decode[entityOut](t, rec)
			if got.ID != created.ID || got.Name != tt.wantName || tt.wantDetail(got) != tt.detail {
				t.Errorf("got %+v, want name %q and %q", got, tt.wantName, tt.detail)
			}
		})
	}
	for _, path := range []string{"/api/users/", "/api/accounts/"} {
		t.Run("unknown "+path, func(t *testing.T) {
			t.Parallel()
			wantProblem(t, b.do(t, http.MethodGet, path+uuid.NewString(), nil), http.StatusNotFound)
		})
	}
}
