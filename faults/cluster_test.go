package faults

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// cluster is a private PostgreSQL cluster a test starts, restarts and stops itself: never the
// shared server, which other tests use.
type cluster struct {
	dir, bin string
	port     int
	// asPG runs a command as the cluster's owner (PostgreSQL refuses to run as root).
	asPG []string
}

// pgBin finds the directory of initdb and pg_ctl.
func pgBin(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	if len(dirs) == 0 {
		t.Skip("no initdb: a private PostgreSQL cluster cannot be started")
	}
	return dirs[len(dirs)-1]
}

// newCluster initdbs a cluster into a temporary directory and starts it on a free port.
func newCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{bin: pgBin(t), port: freePort(t)}
	dir, err := os.MkdirTemp("", "contactd-pg-")
	if err != nil {
		t.Fatal(err)
	}
	c.dir = dir
	t.Cleanup(func() {
		c.pgctl(t, "stop", "-m", "immediate")
		_ = os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("running as root with no postgres user: initdb cannot run")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		c.asPG = []string{"runuser", "-u", "postgres", "--"}
	}
	c.exec(t, filepath.Join(c.bin, "initdb"), "-D", filepath.Join(dir, "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	c.pgctl(t, "start", "-w", "-o", fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c max_connections=200", c.port, dir))
	return c
}

func (c *cluster) exec(t *testing.T, name string, args ...string) {
	t.Helper()
	argv := append(append(append([]string{}, c.asPG...), name), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Logf("%s: %v\n%s", strings.Join(argv, " "), err, out)
		if !strings.Contains(strings.Join(args, " "), "stop") {
			t.FailNow()
		}
	}
}

func (c *cluster) pgctl(t *testing.T, args ...string) {
	t.Helper()
	c.exec(t, filepath.Join(c.bin, "pg_ctl"), append([]string{"-D", filepath.Join(c.dir, "data"), "-l", filepath.Join(c.dir, "log")}, args...)...)
}

// url is the cluster's server URL (its postgres database).
func (c *cluster) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// restart stops the cluster (fast: open connections are cut), keeps it down for down and starts it again.
func (c *cluster) restart(t *testing.T, down time.Duration) {
	t.Helper()
	c.pgctl(t, "stop", "-w", "-m", "fast")
	time.Sleep(down)
	c.pgctl(t, "start", "-w", "-o", fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c max_connections=200", c.port, c.dir))
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if conn, err := pgx.Connect(context.Background(), c.url()); err == nil {
			_ = conn.Close(context.Background())
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the cluster did not come back")
}
