package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestRetentionCommand creates a policy through the API of a running binary, dry-runs it and
// runs it with `contactd retention --wait`, which the binary's workers work.
func TestRetentionCommand(t *testing.T) {
	t.Parallel()
	base, token, getenv := mustRunMainEnv(t, nil)
	for _, name := range []string{"ada", "alan"} {
		if code, _, c := call(t, "POST", base+"/api/contacts", token, `{"firstName": "`+name+`", "email": "`+name+`@example.com", "tags": ["lapsed"]}`); code != 201 {
			t.Fatalf("create contact = %d %v", code, c)
		}
	}
	if code, _, c := call(t, "POST", base+"/api/contacts", token, `{"firstName": "grace"}`); code != 201 {
		t.Fatalf("create contact = %d %v", code, c)
	}
	code, _, pol := call(t, "POST", base+"/api/retention-policies", token, `{"name": "lapsed", "action": "archive", "filter": {"tag": "lapsed"}}`)
	if code != 201 {
		t.Fatalf("create policy = %d %v", code, pol)
	}
	id := pol["id"].(string)
	var out bytes.Buffer
	if err := run(context.Background(), []string{"retention", "--policy", id, "--dry-run"}, getenv, &out, &out); err != nil {
		t.Fatalf("retention --dry-run: %v\n%s", err, &out)
	}
	if !strings.Contains(out.String(), "2 contacts would change") {
		t.Fatalf("dry run printed:\n%s", &out)
	}
	out.Reset()
	if err := run(context.Background(), []string{"retention", "--wait", "--poll", "50ms"}, getenv, &out, &out); err != nil {
		t.Fatalf("retention --wait: %v\n%s", err, &out)
	}
	if !strings.Contains(out.String(), "succeeded") || !strings.Contains(out.String(), "archive 2 of 2") {
		t.Fatalf("retention printed:\n%s", &out)
	}
	if code, _, list := call(t, "GET", base+"/api/contacts?status=archived", token, ""); code != 200 || len(list["data"].([]any)) != 2 {
		t.Fatalf("archived contacts = %d %v", code, list)
	}
	if err := run(context.Background(), []string{"retention", "--policy", "nope"}, getenv, &out, &out); err == nil {
		t.Fatal("retention with a malformed id succeeded")
	}
}
