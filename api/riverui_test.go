package api_test

import (
	"log/slog"
	"net/http"
	"testing"

	"github.com/contactd/contactd/api"
)

// TestRiverUIIsAdminOnly: the job UI answers only requests with an admin-scope key.
func TestRiverUIIsAdminOnly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	served := 0
	ui := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served++; w.WriteHeader(http.StatusOK) })
	h := api.NewRouter(api.Config{App: b.app, Logger: slog.New(slog.DiscardHandler), RiverUI: ui})
	for _, tt := range []struct {
		token string
		want  int
	}{{"", http.StatusUnauthorized}, {b.reader, http.StatusForbidden}, {b.writer, http.StatusForbidden}, {b.admin, http.StatusOK}} {
		for _, path := range []string{"/riverui", "/riverui/", "/riverui/api/jobs?state=running"} {
			if rec := serve(t, h, http.MethodGet, path, nil, as(tt.token)); rec.Code != tt.want {
				t.Errorf("GET %s: %d, want %d", path, rec.Code, tt.want)
			}
		}
	}
	if served != 3 {
		t.Errorf("the UI served %d requests, want the admin's 3", served)
	}
}
