package carddav

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// davServer is a real CardDAV server started for the tests on a loopback port, with its
// storage in a temporary folder.
type davServer struct {
	name string
	base string // http://127.0.0.1:port
	// user returns the principal path of a fresh user (Radicale), or the one user (Xandikos).
	user func(n int64) string
	// bookHome is where a user's test books go.
	bookHome func(user string) string
	cmd      *exec.Cmd
	dir      string // the storage folder
}

var (
	servers    []*davServer
	serversErr error
	bookSeq    atomic.Int64
	startOnce  sync.Once
)

// python is the interpreter with Debian's radicale and xandikos (the python3 first on PATH may
// be another one).
const python = "/usr/bin/python3"

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startServer(name string, args func(dir string, port int) []string) (*davServer, error) {
	if out, err := exec.Command(python, "-c", "import "+name).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s is not installed for %s (apt-get install python3-radicale xandikos): %s", name, python, bytes.TrimSpace(out))
	}
	dir, err := os.MkdirTemp("", "contactd-"+name+"-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(python, args(dir, port)...)
	log, _ := os.Create(filepath.Join(dir, "server.log"))
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s := &davServer{name: name, base: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, dir: dir}
	for deadline := time.Now().Add(20 * time.Second); ; {
		resp, err := http.Get(s.base + "/")
		if err == nil {
			resp.Body.Close()
			return s, nil
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			b, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			return nil, fmt.Errorf("%s did not answer on %s: %v\n%s", name, s.base, err, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func startServers() {
	r, err := startServer("radicale", func(dir string, port int) []string {
		return []string{"-m", "radicale", "--storage-filesystem-folder", dir + "/storage",
			"--server-hosts", fmt.Sprintf("127.0.0.1:%d", port), "--auth-type", "none", "--logging-level", "warning"}
	})
	if err != nil {
		serversErr = err
		return
	}
	r.user = func(n int64) string { return fmt.Sprintf("/u%d/", n) }
	r.bookHome = func(user string) string { return user }
	x, err := startServer("xandikos", func(dir string, port int) []string {
		return []string{"-m", "xandikos.web", "-d", dir, "--defaults", "-l", "127.0.0.1", "-p", fmt.Sprint(port)}
	})
	if err != nil {
		_ = r.cmd.Process.Kill()
		serversErr = err
		return
	}
	x.user = func(int64) string { return "/user/" }
	x.bookHome = func(user string) string { return user + "contacts/" }
	servers = []*davServer{r, x}
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, s := range servers {
		_ = s.cmd.Process.Kill()
		_, _ = s.cmd.Process.Wait()
		_ = os.RemoveAll(s.dir)
	}
	os.Exit(code)
}

// needServers returns the servers, or skips the test when they cannot be started; CI must
// run these tests, so there it fails instead.
func needServers(t *testing.T) []*davServer {
	t.Helper()
	startOnce.Do(startServers)
	if serversErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CardDAV servers are required in CI: %v", serversErr)
		}
		t.Skipf("CardDAV servers cannot be started (scripts/test installs them): %v", serversErr)
	}
	return servers
}

// book makes a fresh address book; it returns the user's principal URL and the book's URL.
func (s *davServer) book(t *testing.T) (principal, book string) {
	t.Helper()
	n := bookSeq.Add(1)
	user := s.user(n)
	u := s.base + s.bookHome(user) + fmt.Sprintf("t%d/", n)
	body := `<d:mkcol xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:set><d:prop><d:resourcetype><d:collection/><c:addressbook/></d:resourcetype></d:prop></d:set></d:mkcol>`
	s.do(t, "MKCOL", u, body, "application/xml", nil, http.StatusCreated)
	return s.base + user, u
}

// do sends a request to the server as the tests' user.
func (s *davServer) do(t *testing.T, method, u, body, ctype string, h map[string]string, want ...int) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	user := strings.Trim(strings.SplitN(strings.TrimPrefix(u, s.base+"/"), "/", 2)[0], "/")
	req.SetBasicAuth(user, "pw")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, w := range want {
		if resp.StatusCode == w {
			return resp
		}
	}
	if len(want) > 0 {
		t.Fatalf("%s %s: %s, want %v", method, u, resp.Status, want)
	}
	return resp
}

// put stores a card at book/name as a client would.
func (s *davServer) put(t *testing.T, book, name, card string) {
	t.Helper()
	card = strings.ReplaceAll(strings.TrimSpace(card), "\n", "\r\n") + "\r\n"
	s.do(t, http.MethodPut, book+name, card, "text/vcard", nil, http.StatusCreated, http.StatusNoContent, http.StatusOK)
}

func (s *davServer) remove(t *testing.T, book, name string) {
	t.Helper()
	s.do(t, http.MethodDelete, book+name, "", "", nil, http.StatusOK, http.StatusNoContent)
}

// drop writes a card straight into Radicale's storage folder, as a file synced in by another
// tool would be: Radicale refuses through PUT what the tests need (no UID, a duplicate UID).
func (s *davServer) drop(t *testing.T, book, name, card string) {
	t.Helper()
	path := filepath.Join(s.dir, "storage", "collection-root", filepath.FromSlash(strings.TrimPrefix(book, s.base+"/")), name)
	card = strings.ReplaceAll(strings.TrimSpace(card), "\n", "\r\n") + "\r\n"
	if err := os.WriteFile(path, []byte(card), 0o644); err != nil {
		t.Fatal(err)
	}
}

// userOf is the user of a URL under the server (its first path segment).
func (s *davServer) userOf(url string) string {
	return strings.Trim(strings.SplitN(strings.TrimPrefix(url, s.base+"/"), "/", 2)[0], "/")
}

// connector is a connector of url as user ("" for the user of url).
func (s *davServer) connector(url string, user ...string) *Connector {
	u := s.userOf(url)
	if len(user) > 0 {
		u = user[0]
	}
	return newConnector(&Config{URL: url, Username: u, Password: "pw"})
}
