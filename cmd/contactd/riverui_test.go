package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestRiverUI: River's UI is served under /riverui/, its API included, to an admin key (the API
// package's tests check that other scopes are refused).
func TestRiverUI(t *testing.T) {
	t.Parallel()
	base, admin := mustRunMain(t)
	get := func(path, token string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(data)
	}
	if code, _ := get("/riverui/", ""); code != http.StatusUnauthorized {
		t.Errorf("no key: %d, want 401", code)
	}
	if code, page := get("/riverui/", admin); code != http.StatusOK || !strings.Contains(strings.ToLower(page), "<html") {
		t.Errorf("admin: %d %.200s, want the UI's page", code, page)
	}
	if code, page := get("/riverui/api/queues", admin); code != http.StatusOK || !strings.Contains(page, "default") {
		t.Errorf("admin, the UI's API: %d %.300s, want the queues", code, page)
	}
}
