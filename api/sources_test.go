package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/contactd/contactd/sync/source"
	"github.com/google/uuid"
)

type sourceOut struct {
	ID      string          `json:"id"`
	Config  json.RawMessage `json:"config"`
	Secrets []string        `json:"secrets"`
}

func TestSourcesAndSync(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sealer, err := source.ParseKey("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	if err != nil {
		t.Fatal(err)
	}
	b.app.Sources.SetSealer(sealer)
	remote := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`[{"id": "r1", "first": "Ada", "mail": "ada@example.com"}]`))
	}))
	t.Cleanup(remote.Close)

	// Bad fields are all named.
	p := wantProblem(t, b.do(t, http.MethodPost, "/api/sources", body{"type": "carddav", "name": "dav", "config": body{"password": "x"}}), http.StatusUnprocessableEntity)
	wantFields(t, p, "config.url", "config.username")
	p = wantProblem(t, b.do(t, http.MethodPost, "/api/sources", body{"type": "ldap", "name": "dir", "config": body{}}), http.StatusUnprocessableEntity)
	wantFields(t, p, "type")
	p = wantProblem(t, b.do(t, http.MethodPost, "/api/sources", body{"type": "http", "name": "", "schedule": "soon",
		"config": body{"url": remote.URL, "idPath": "id", "fieldMapping": body{"shoeSize": "s"}}}), http.StatusUnprocessableEntity)
	wantFields(t, p, "config.fieldMapping.shoeSize", "name", "schedule")

	created := b.do(t, http.MethodPost, "/api/sources", body{"type": "http", "name": "crm", "schedule": "15m",
		"config": body{"url": remote.URL, "token": "tok-secret", "headers": body{"X-Key": "hdr-secret"}, "idPath": "id",
			"fieldMapping": body{"firstName": "first", "email": "mail"}}})
	wantStatus(t, created, http.StatusCreated)
	src := decode[sourceOut](t, created)
	for _, rec := range []*httptest.ResponseRecorder{created, b.do(t, http.MethodGet, "/api/sources/"+src.ID, nil), b.do(t, http.MethodGet, "/api/sources", nil)} {
		if strings.Contains(rec.Body.String(), "tok-secret") || strings.Contains(rec.Body.String(), "hdr-secret") {
			t.Fatalf("a secret came back: %s", rec.Body)
		}
	}
	if strings.Join(src.Secrets, ",") != "headers.X-Key,token" {
		t.Fatalf("secret names %v", src.Secrets)
	}

	bad := b.do(t, http.MethodPost, "/api/sources/"+src.ID+"/sync?full=maybe&allowEmpty=sure", nil)
	wantProblem(t, bad, http.StatusUnprocessableEntity)
	if !strings.Contains(bad.Body.String(), `"allowEmpty"`) || !strings.Contains(bad.Body.String(), `"full"`) {
		t.Fatalf("the problem does not name both parameters: %s", bad.Body)
	}
	started := b.do(t, http.MethodPost, "/api/sources/"+src.ID+"/sync?full=true&allowEmpty=true", nil)
	wantStatus(t, started, http.StatusAccepted)
	runID := decode[struct {
		RunID string `json:"runId"`
	}](t, started).RunID
	// Work the run as the job would.
	if _, err := b.app.Sync.Run(t.Context(), uuid.MustParse(runID), nil); err != nil {
		t.Fatal(err)
	}
	run := b.do(t, http.MethodGet, "/api/sources/"+src.ID+"/runs/"+runID, nil)
	wantStatus(t, run, http.StatusOK)
	got := decode[struct {
		Status     string `json:"status"`
		Created    int    `json:"created"`
		AllowEmpty bool   `json:"allowEmpty"`
	}](t, run)
	if got.Status != "succeeded" || got.Created != 1 || !got.AllowEmpty {
		t.Fatalf("run %s", run.Body)
	}
	wantStatus(t, b.do(t, http.MethodGet, "/api/sources/"+src.ID+"/runs", nil), http.StatusOK)

	var contactID string
	if err := b.pool.QueryRow(t.Context(), `SELECT contact_id::text FROM sync_links WHERE remote_id = 'r1'`).Scan(&contactID); err != nil {
		t.Fatal(err)
	}
	c := b.do(t, http.MethodGet, "/api/contacts/"+contactID, nil)
	wantStatus(t, c, http.StatusOK)
	links := decode[struct {
		Sources []struct {
			SourceID string    `json:"sourceId"`
			RemoteID string    `json:"remoteId"`
			SyncedAt time.Time `json:"syncedAt"`
		} `json:"sources"`
	}](t, c)
	if len(links.Sources) != 1 || links.Sources[0].SourceID != src.ID || links.Sources[0].RemoteID != "r1" {
		t.Fatalf("contact sources %+v", links.Sources)
	}

	patched := b.do(t, http.MethodPatch, "/api/sources/"+src.ID, body{"name": "renamed", "schedule": nil})
	wantStatus(t, patched, http.StatusOK)
	if strings.Contains(patched.Body.String(), `"schedule":"`) {
		t.Fatalf("schedule not cleared: %s", patched.Body)
	}
	wantStatus(t, b.do(t, http.MethodDelete, "/api/sources/"+src.ID, nil), http.StatusNoContent)
	wantProblem(t, b.do(t, http.MethodGet, "/api/sources/"+src.ID, nil), http.StatusNotFound)
}
