package faults

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/contactd/contactd/internal/dbtest"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// bin is the contactd binary built once for the run (empty when the tests are skipped).
var bin string

func TestMain(m *testing.M) {
	if os.Getenv("CONTACTD_PROCESS_TESTS") == "" {
		fmt.Println("faults: skipped (set CONTACTD_PROCESS_TESTS=1, or run make scale-test / make fault-tests)")
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "contactd-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "contactd")
	build := exec.Command("go", "build", "-o", bin, "../cmd/contactd")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "faults: build contactd:", err)
		os.Exit(1)
	}
	code := m.Run()
	printTable()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// requireProcesses skips a test unless process tests are enabled.
func requireProcesses(t *testing.T) {
	t.Helper()
	if bin == "" {
		t.Skip("process tests are off: set CONTACTD_PROCESS_TESTS=1")
	}
}

// syncBuffer is an output buffer safe to write from a process and read from the test.
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

// proc is one contactd process.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{}
}

// env is a test database's environment for contactd.
type env struct {
	url string
	// extra are more variables (the secret key, private webhooks).
	extra []string
}

func (e env) vars() []string {
	return append(append(os.Environ(), "DATABASE_URL="+e.url, "CONTACTD_WEBHOOK_ALLOW_PRIVATE=true",
		"CONTACTD_LOG_LEVEL=warn", "CONTACTD_RATE_LIMIT=0"), e.extra...)
}

// run runs a contactd command to its end and returns its standard output.
func (e env) run(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = e.vars()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("contactd %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

// start starts a long-running contactd process, stopped (SIGTERM, then SIGKILL) at the test's end.
func (e env) start(t *testing.T, name string, stdout io.Writer, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(bin, args...), stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Env = e.vars()
	p.cmd.Stdout, p.cmd.Stderr = stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(p.stop)
	return p
}

// kill9 kills the process at once: no shutdown, no job handed back.
func (p *proc) kill9() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop ends the process gracefully, or kills it after 20 s.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		p.kill9()
	}
}

var listening = regexp.MustCompile(`listening on (http://\S+)`)

// serve starts `contactd serve --no-workers` on a free port and returns its base URL once it
// listens.
func (e env) serve(t *testing.T, name string) (*proc, string) {
	t.Helper()
	r, w := io.Pipe()
	p := e.start(t, name, w, "serve", "--no-workers", "--addr", "127.0.0.1:0")
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case u := <-found:
		return p, u
	case <-p.done:
		t.Fatalf("%s exited: %s", name, p.stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not listen within 60 s: %s", name, p.stderr.String())
	}
	return nil, ""
}

// worker starts `contactd worker`.
func (e env) worker(t *testing.T, name string) *proc {
	t.Helper()
	return e.start(t, name, io.Discard, "worker")
}

// newEnv makes a fresh database on the server at serverURL, migrates it and returns its
// environment, a pool on it and an admin API token; the database is dropped at the end.
func newEnv(t *testing.T, serverURL string, extra ...string) (env, *pgxpool.Pool, string) {
	t.Helper()
	name := "contactd_faults_" + strings.ReplaceAll(uuid.NewString()[:13], "-", "")
	u := strings.Replace(serverURL, "/postgres?", "/"+name+"?", 1)
	e := env{url: u, extra: extra}
	e.run(t, "migrate")
	t.Cleanup(func() {
		admin, err := pgx.Connect(context.Background(), serverURL)
		if err == nil {
			_, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			_ = admin.Close(context.Background())
		}
	})
	pool, err := pgxpool.New(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	out := e.run(t, "apikey", "create", "--name", "faults", "--scopes", "read,write,admin")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return e, pool, lines[len(lines)-1]
}

// sharedServer is the PostgreSQL server every test uses.
func sharedServer() string { return dbtest.ServerURL() }

// client talks to one contactd server.
type client struct {
	base, token string
	http        *http.Client
}

func newClient(base, token string) *client {
	return &client{base: base, token: token, http: &http.Client{Timeout: 30 * time.Second}}
}

// do sends a request and returns the status, the headers and the body.
func (c *client) do(method, path, contentType string, body []byte, header ...string) (int, http.Header, []byte, error) {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

// mustJSON sends JSON and decodes the answer into out, failing unless the status is want.
func (c *client) mustJSON(t *testing.T, method, path string, in any, want int, out any) {
	t.Helper()
	var body []byte
	if in != nil {
		body, _ = json.Marshal(in)
	}
	status, _, b, err := c.do(method, path, "application/json", body)
	if err != nil || status != want {
		t.Fatalf("%s %s: %d %s (%v), want %d", method, path, status, b, err, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %s: %v", method, path, b, err)
		}
	}
}

// csvOf returns an import file of n contacts with distinct emails, their prefix p.
func csvOf(p string, n int) []byte {
	var b bytes.Buffer
	b.WriteString("firstName,lastName,email\n")
	for i := range n {
		fmt.Fprintf(&b, "First%d,%s,%s%d@example.com\n", i, p, p, i)
	}
	return b.Bytes()
}

// importJSON is what the tests read of an import.
type importJSON struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	Processed int64  `json:"processed"`
	Created   int64  `json:"created"`
	Failed    int64  `json:"failed"`
}

// startImport uploads an import file and returns the import.
func (c *client) startImport(t *testing.T, file []byte) importJSON {
	t.Helper()
	status, _, b, err := c.do(http.MethodPost, "/api/imports?format=csv&source=faults", "text/csv", file)
	if err != nil || status != http.StatusAccepted {
		t.Fatalf("upload: %d %s (%v)", status, b, err)
	}
	var im importJSON
	if err := json.Unmarshal(b, &im); err != nil {
		t.Fatal(err)
	}
	return im
}

// getImport reads an import.
func (c *client) getImport(t *testing.T, id string) importJSON {
	t.Helper()
	var out struct {
		Import importJSON `json:"import"`
	}
	c.mustJSON(t, http.MethodGet, "/api/imports/"+id, nil, http.StatusOK, &out)
	return out.Import
}

// waitFor polls cond every 100 ms until it is true or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// pendingJobs counts the jobs not yet finished (completed, cancelled or discarded), apart from
// the periodic housekeeping that is always scheduled.
func pendingJobs(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	var n int
	err := pool.QueryRow(ctx, `SELECT count(*) FROM river_job
		WHERE state NOT IN ('completed', 'cancelled', 'discarded')
		AND kind NOT IN ('idempotency_clean', 'sync_due', 'rescue_orphaned_jobs', 'events_retention')`).Scan(&n)
	return n, err
}

// lostJobs counts jobs that ended without their work: discarded or cancelled.
func lostJobs(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	var n int
	err := pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE state IN ('cancelled', 'discarded')`).Scan(&n)
	return n, err
}

// freePort returns a TCP port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

var _ = strconv.Itoa
