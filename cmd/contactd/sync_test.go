package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestSyncCommand creates an http source through the API of a running binary and syncs it with
// `contactd sync --wait`, which the binary's workers work.
func TestSyncCommand(t *testing.T) {
	t.Parallel()
	remote := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Key") != "k" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{"items": [{"id": 1, "name": "Ada", "email": "ada@example.com"}, {"id": 2, "name": "Alan", "email": "alan@example.com"}]}`))
	}))
	t.Cleanup(remote.Close)
	base, token, getenv := mustRunMainEnv(t, map[string]string{"CONTACTD_SECRET_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="})
	code, _, src := call(t, "POST", base+"/api/sources", token, fmt.Sprintf(`{"type": "http", "name": "crm",
		"config": {"url": %q, "headers": {"X-Key": "k"}, "itemsPath": "items", "idPath": "id",
			"fieldMapping": {"firstName": "name", "email": "email"}}}`, remote.URL))
	if code != 201 {
		t.Fatalf("create source = %d %v", code, src)
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"sync", "--source", src["id"].(string), "--wait", "--poll", "50ms"}, getenv, &out, &out); err != nil {
		t.Fatalf("sync: %v\n%s", err, &out)
	}
	if !strings.Contains(out.String(), "succeeded") || !strings.Contains(out.String(), "created 2") {
		t.Fatalf("sync printed:\n%s", &out)
	}
	if err := run(context.Background(), []string{"sync", "--source", "nope"}, getenv, &out, &out); err == nil {
		t.Fatal("sync of a malformed id succeeded")
	}
}
