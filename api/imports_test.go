package api_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// TestImportsAndExportMatchSpec drives the import and export routes once each, so that their
// answers are checked against openapi.yaml; the importer's own tests cover what they do.
func TestImportsAndExportMatchSpec(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createContact(t, body{"firstName": "Ada", "email": "ada@example.com", "company": "Acme"})

	csv := "First Name,Last Name,Email\nGrace,Hopper,grace@example.com\n"
	rec := b.do(t, http.MethodPost, "/api/imports?format=csv&source=crm", csv, withHeader("Content-Type", "text/csv"))
	wantStatus(t, rec, http.StatusAccepted)
	im := decode[struct {
		ID     uuid.UUID `json:"id"`
		Status string    `json:"status"`
	}](t, rec)
	if loc := rec.Header().Get("Location"); loc != "/api/imports/"+im.ID.String() {
		t.Errorf("Location %q", loc)
	}
	wantStatus(t, b.do(t, http.MethodGet, "/api/imports/"+im.ID.String(), nil, as(b.reader)), http.StatusOK)
	wantStatus(t, b.do(t, http.MethodGet, "/api/imports?limit=10", nil, as(b.reader)), http.StatusOK)
	if rec := b.do(t, http.MethodPost, "/api/imports/"+im.ID.String()+"/cancel", nil); rec.Code != http.StatusAccepted && rec.Code != http.StatusConflict {
		t.Errorf("cancel answered %d: %s", rec.Code, rec.Body)
	}

	tests := []struct {
		name, method, path string
		body               any
		token              string
		status             int
	}{
		{"import by a read key", http.MethodPost, "/api/imports", csv, b.reader, http.StatusForbidden},
		{"empty import", http.MethodPost, "/api/imports", "", b.writer, http.StatusUnprocessableEntity},
		{"import with bad options", http.MethodPost, "/api/imports?format=xls&region=XX&mapping=Name", csv, b.writer, http.StatusUnprocessableEntity},
		{"unknown import", http.MethodGet, "/api/imports/" + uuid.NewString(), nil, b.reader, http.StatusNotFound},
		{"malformed import id", http.MethodGet, "/api/imports/x", nil, b.reader, http.StatusNotFound},
		{"bad errors cursor", http.MethodGet, "/api/imports/" + im.ID.String() + "?errorsCursor=x&errorsLimit=0", nil, b.reader, http.StatusUnprocessableEntity},
		{"cancel unknown import", http.MethodPost, "/api/imports/" + uuid.NewString() + "/cancel", nil, b.writer, http.StatusNotFound},
		{"export csv", http.MethodGet, "/api/contacts/export?company=acme", nil, b.reader, http.StatusOK},
		{"export ndjson", http.MethodGet, "/api/contacts/export?format=ndjson", nil, b.reader, http.StatusOK},
		{"export vcard", http.MethodGet, "/api/contacts/export?format=vcf&status=all", nil, b.reader, http.StatusOK},
		{"export with bad filters", http.MethodGet, "/api/contacts/export?format=pdf&status=x", nil, b.reader, http.StatusUnprocessableEntity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := b.do(t, tt.method, tt.path, tt.body, as(tt.token))
			if tt.status >= 400 {
				wantProblem(t, rec, tt.status)
				return
			}
			wantStatus(t, rec, tt.status)
			if strings.HasPrefix(tt.name, "export") && !strings.Contains(rec.Body.String(), "Ada") {
				t.Errorf("export lacks the contact: %q", rec.Body)
			}
		})
	}
}

// TestExportQueryBytes sends export filters PostgreSQL cannot take as text, through a real
// server: the export sets its status before it queries, so such a value must be refused before,
// as a 4xx problem, not cut the connection.
func TestExportQueryBytes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	srv := httptest.NewServer(b.handler)
	t.Cleanup(srv.Close)
	for _, q := range []string{"?company=%00", "?role=%FF"} {
		t.Run(q, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/contacts/export"+q, nil)
			req.Header.Set("Authorization", "Bearer "+b.reader)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatalf("GET /api/contacts/export%s dropped the connection: %v", q, err)
			}
			defer resp.Body.Close()
			data, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode < 400 || resp.StatusCode >= 500 {
				t.Errorf("GET /api/contacts/export%s answered %d (read error %v), want a 4xx problem: %.200s", q, resp.StatusCode, err, data)
			}
		})
	}
}

func TestExportUnknownParameter(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// An export has no pages: limit is not one of its parameters.
	wantFields(t, wantProblem(t, b.do(t, http.MethodGet, "/api/contacts/export?limit=0", nil), http.StatusBadRequest), "limit")
}
