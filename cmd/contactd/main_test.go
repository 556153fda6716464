package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/contactd/contactd/internal/dbtest"
)

// syncBuffer is a goroutine-safe buffer for a running command's output.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// mustRunMain starts `contactd serve --addr 127.0.0.1:0` on a fresh database, as a newcomer
// would, and returns its base URL, an admin token made with `contactd apikey create`, and the
// environment it ran with.
func mustRunMain(t *testing.T) (base, token string) {
	t.Helper()
	base, token, _ = mustRunMainEnv(t, nil)
	return base, token
}

// mustRunMainEnv is mustRunMain with extra environment variables; it also returns the
// environment, for further commands against the same database.
func mustRunMainEnv(t *testing.T, extra map[string]string) (base, token string, getenv func(string) string) {
	t.Helper()
	env := map[string]string{"DATABASE_URL": dbtest.URL(t), "CONTACTD_LOG_LEVEL": "warn"}
	for k, v := range extra {
		env[k] = v
	}
	getenv = func(k string) string { return env[k] }
	ctx, cancel := context.WithCancel(context.Background())
	stdoutR, stdoutW := io.Pipe()
	stderr := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, getenv, stdoutW, stderr)
		stdoutW.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v\n%s", err, stderr)
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not shut down within 30s")
		}
	})
	line, err := bufio.NewReader(stdoutR).ReadString('\n')
	if err != nil {
		t.Fatalf("serve printed no address: %v\n%s", err, stderr)
	}
	go io.Copy(io.Discard, stdoutR) //nolint:errcheck
	base = strings.TrimSpace(strings.TrimPrefix(line, "contactd listening on "))

	var out bytes.Buffer
	if err := run(context.Background(), []string{"apikey", "create", "--name", "e2e", "--scopes", "admin"}, getenv, &out, io.Discard); err != nil {
		t.Fatalf("apikey create: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	return base, lines[len(lines)-1], getenv
}

func call(t *testing.T, method, url, token, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
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
	var out map[string]any
	data, _ := io.ReadAll(resp.Body)
	if len(data) > 0 {
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatalf("%s %s: body is not a JSON object: %s", method, url, data)
		}
	}
	return resp.StatusCode, resp.Header, out
}

// TestWalkthrough follows the README's curl walk-through against the real binary's run.
func TestWalkthrough(t *testing.T) {
	t.Parallel()
	base, token := mustRunMain(t)

	if code, _, _ := call(t, "GET", base+"/readyz", "", ""); code != 200 {
		t.Fatalf("readyz = %d", code)
	}
	if code, _, _ := call(t, "GET", base+"/api/contacts", "", ""); code != 401 {
		t.Fatalf("no token: %d, want 401", code)
	}
	code, _, acct := call(t, "POST", base+"/api/accounts", token, `{"name": "Acme Corp", "domain": "acme.com"}`)
	if code != 201 {
		t.Fatalf("create account = %d %v", code, acct)
	}
	code, _, user := call(t, "POST", base+"/api/users", token, `{"name": "Sam Seller", "email": "sam@crm.example"}`)
	if code != 201 {
		t.Fatalf("create user = %d %v", code, user)
	}
	body := `{"firstName": "John", "lastName": "Doe", "email": "John.Doe@Example.com", "phone": "+1-555-0100",
		"title": "Sales Manager", "company": "Acme Corp",
		"relationships": [{"type": "account", "entityId": "` + acct["id"].(string) + `", "role": "decision_maker"},
			{"type": "user", "entityId": "` + user["id"].(string) + `", "role": "owner"}]}`
	created := time.Now()
	code, hdr, c := call(t, "POST", base+"/api/contacts", token, body)
	if code != 201 || hdr.Get("Location") == "" {
		t.Fatalf("create contact = %d %v", code, c)
	}
	id := c["id"].(string)

	// Normalized forms appear within 2 seconds.
	var got map[string]any
	for {
		_, _, got = call(t, "GET", base+"/api/contacts/"+id, token, "")
		if got["normalized"].(map[string]any)["at"] != nil {
			break
		}
		if time.Since(created) > 2*time.Second {
			t.Fatalf("not normalized within 2s: %v", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("create to normalized: %v", time.Since(created))
	if n := got["normalized"].(map[string]any); n["email"] != "John.Doe@example.com" || n["phoneValid"] != false {
		t.Fatalf("normalized = %v (+1-555-0100 has too few digits for a US number and is flagged)", n)
	}

	code, hdr, upd := call(t, "PUT", base+"/api/contacts/"+id, token,
		`{"email": "john.doe@newcompany.com", "phone": "+1 415 555 0100", "title": "Senior Sales Manager",
		  "preferences": {"communicationMethods": ["email", "phone"], "notifications": {"email": true, "sms": false}}}`)
	if code != 200 || hdr.Get("ETag") != `"2"` || upd["title"] != "Senior Sales Manager" || upd["lastName"] != "Doe" {
		t.Fatalf("update = %d %v %v", code, hdr, upd)
	}

	code, _, list := call(t, "GET", base+"/api/contacts?company=acme%20corp&role=decision_maker&account="+acct["id"].(string), token, "")
	if data, _ := list["data"].([]any); code != 200 || len(data) != 1 {
		t.Fatalf("list = %d %v", code, list)
	}

	if code, _, _ := call(t, "DELETE", base+"/api/contacts/"+id, token, ""); code != 204 {
		t.Fatalf("delete = %d", code)
	}
	if _, _, list := call(t, "GET", base+"/api/contacts", token, ""); len(list["data"].([]any)) != 0 {
		t.Fatalf("archived contact still listed: %v", list)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"CONTACTD_DEFAULT_REGION": "XX"}, []string{"migrate"}, "CONTACTD_DEFAULT_REGION"},
		{map[string]string{"CONTACTD_LOG_LEVEL": "loud"}, []string{"migrate"}, "CONTACTD_LOG_LEVEL"},
		{map[string]string{"CONTACTD_SECRET_KEY": "c2hvcnQ="}, []string{"migrate"}, "CONTACTD_SECRET_KEY"},
		{nil, []string{"frobnicate"}, "unknown command"},
		{nil, []string{"apikey", "create", "--name", "x", "--scopes", "root"}, "unknown scope"},
	} {
		err := run(context.Background(), tc.args, func(k string) string { return tc.env[k] }, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: err = %v, want it to mention %s", tc.env, tc.args, err, tc.want)
		}
	}
}
