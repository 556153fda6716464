package faults

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/contactd/contactd/internal/fakedata"
)

// startRadicale starts a Radicale server over a book of n cards written straight into its
// storage folder (as make bench-carddav does) and returns the book's URL once Radicale has
// indexed it. It skips the test where Radicale is not installed, except in CI.
func startRadicale(t *testing.T, user string, n int) (base, book string) {
	t.Helper()
	if out, err := exec.Command("/usr/bin/python3", "-c", "import radicale").CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Radicale is required in CI: %s", out)
		}
		t.Skipf("Radicale is not installed (scripts/test installs python3-radicale): %s", bytes.TrimSpace(out))
	}
	dir := t.TempDir()
	folder := filepath.Join(dir, "storage", "collection-root", user, "book")
	if err := os.MkdirAll(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(folder, ".Radicale.props"), []byte(`{"tag": "VADDRESSBOOK"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		// Varied names, as the bench's: look-alikes the matcher would merge stay rare.
		first := fakedata.FirstNames[(i*7)%len(fakedata.FirstNames)]
		last := fakedata.LastNames[(i*31)%len(fakedata.LastNames)]
		card := fmt.Sprintf("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:card-%d\r\nN:%s;%s;;;\r\nFN:%s %s\r\n"+
			"EMAIL:%s.%s.%d@example.com\r\nORG:Company %d\r\nEND:VCARD\r\n", i, last, first, first, last, first, last, i, i%500)
		if err := os.WriteFile(filepath.Join(folder, fmt.Sprintf("card-%d.vcf", i)), []byte(card), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	port := freePort(t)
	log, err := os.Create(filepath.Join(dir, "radicale.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/python3", "-m", "radicale", "--storage-filesystem-folder", filepath.Join(dir, "storage"),
		"--server-hosts", fmt.Sprintf("127.0.0.1:%d", port), "--auth-type", "none", "--logging-level", "warning")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	base = fmt.Sprintf("http://127.0.0.1:%d", port)
	book = base + "/" + user + "/book/"
	waitFor(t, time.Minute, "Radicale to answer", func() (bool, error) {
		resp, err := http.Get(base + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil, nil
	})
	// Radicale indexes files it was given on its first listing: done here, before the run.
	req, _ := http.NewRequest("REPORT", book, strings.NewReader(`<d:sync-collection xmlns:d="DAV:"><d:sync-token/><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>`))
	req.SetBasicAuth(user, "")
	req.Header.Set("Content-Type", "application/xml")
	resp, err := (&http.Client{Timeout: 10 * time.Minute}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMultiStatus {
		t.Fatalf("Radicale's first listing: %s", resp.Status)
	}
	return base, book
}

// TestKillWorkerMidCardDAVSync kills the only worker while a sync run pulls a real Radicale
// address book page by page (a proxy slows each addressbook-multiget), starts another, and
// checks that the run resumes and succeeds with exactly one contact and one link per card, and
// that the next run succeeds and creates and deletes nothing.
func TestKillWorkerMidCardDAVSync(t *testing.T) {
	requireProcesses(t)
	t.Parallel()
	ctx := context.Background()
	const cards, pageSize = 3000, 500 // carddav.DefaultPageSize
	base, book := startRadicale(t, "fault", cards)
	target, _ := url.Parse(base)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var multigets atomic.Int64
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "REPORT" {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			if bytes.Contains(body, []byte("addressbook-multiget")) {
				time.Sleep(time.Second)
				defer multigets.Add(1)
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()
	pg := newCluster(t)
	e, pool, token := newEnv(t, pg.url())
	_, apiBase := e.serve(t, "api")
	w1 := e.worker(t, "worker-1")
	api := newClient(apiBase, token)
	var src struct {
		ID string `json:"id"`
	}
	api.mustJSON(t, http.MethodPost, "/api/sources", map[string]any{"type": "carddav", "name": "phone", "direction": "both",
		"config": map[string]any{"url": front.URL + strings.TrimPrefix(book, base), "username": "fault"}}, http.StatusCreated, &src)
	var run struct {
		RunID string `json:"runId"`
	}
	api.mustJSON(t, http.MethodPost, "/api/sources/"+src.ID+"/sync", nil, http.StatusAccepted, &run)
	// Kill once at least two pages are committed and the run is not over.
	waitFor(t, 5*time.Minute, "the run to commit two pages", func() (bool, error) {
		var created int
		err := pool.QueryRow(ctx, `SELECT created FROM sync_runs WHERE id = $1`, run.RunID).Scan(&created)
		return created >= 2*pageSize, err
	})
	w1.kill9()
	var atKill int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM sync_links`).Scan(&atKill); err != nil {
		t.Fatal(err)
	}
	if atKill >= cards {
		t.Fatalf("the run had linked all %d cards before the kill: nothing was interrupted", atKill)
	}
	e.worker(t, "worker-2")
	var status string
	waitFor(t, 5*time.Minute, "the run to finish after the kill", func() (bool, error) {
		err := pool.QueryRow(ctx, `SELECT status FROM sync_runs WHERE id = $1`, run.RunID).Scan(&status)
		return status == "succeeded" || status == "failed", err
	})
	waitFor(t, 3*time.Minute, "every job to finish", func() (bool, error) {
		n, err := pendingJobs(ctx, pool)
		return n == 0, err
	})
	// One contact per card: every card has one link; every contact was created by one card
	// (a link decided "created", which keeps naming it after the matcher merged it away:
	// merged_from), none twice; cards the matcher found to be a contact already are linked to
	// it, not created.
	counts := func() (contacts, links, cardsLinked, created, origins, merged int) {
		t.Helper()
		if err := pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE status = 'merged') FROM contacts`).Scan(&contacts, &merged); err != nil {
			t.Fatal(err)
		}
		if err := pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT l.remote_id), count(*) FILTER (WHERE l.decision->>'by' = 'created'),
				count(DISTINCT coalesce(l.merged_from, l.contact_id)) FILTER (WHERE l.decision->>'by' = 'created')
			FROM sync_links l JOIN contacts c ON c.id = l.contact_id WHERE NOT l.deleted`).Scan(&links, &cardsLinked, &created, &origins); err != nil {
			t.Fatal(err)
		}
		return
	}
	contacts, links, cardsLinked, created, origins, merged := counts()
	if status != "succeeded" || links != cards || cardsLinked != cards || contacts != created || origins != created {
		t.Errorf("run %s; %d links for %d cards; %d contacts (%d merged by the matcher since), %d cards created a contact, %d distinct contacts among them; want one link per card and one contact per created card",
			status, links, cardsLinked, contacts, merged, created, origins)
	}
	// The next run: succeeds, creates nothing, archives nothing, pushes nothing.
	var next struct {
		RunID string `json:"runId"`
	}
	api.mustJSON(t, http.MethodPost, "/api/sources/"+src.ID+"/sync", nil, http.StatusAccepted, &next)
	var nextStatus string
	var nextCreated, deleted, pushed int
	waitFor(t, 3*time.Minute, "the next run to finish", func() (bool, error) {
		err := pool.QueryRow(ctx, `SELECT status, created, deleted, pushed FROM sync_runs WHERE id = $1`, next.RunID).Scan(&nextStatus, &nextCreated, &deleted, &pushed)
		return nextStatus == "succeeded" || nextStatus == "failed", err
	})
	if c2, l2, _, _, _, _ := counts(); nextStatus != "succeeded" || nextCreated != 0 || deleted != 0 || c2 != contacts || l2 != cards {
		t.Errorf("next run %s: created %d deleted %d; %d contacts (%d before), %d links", nextStatus, nextCreated, deleted, c2, contacts, l2)
	}
	if n, err := lostJobs(ctx, pool); err != nil || n != 0 {
		t.Errorf("%d jobs discarded or cancelled (%v)", n, err)
	}
	report("kill -9 worker mid-sync (carddav, Radicale)", fmt.Sprintf("killed with %d of %d cards linked; the same run resumed and succeeded: %d links for %d cards, %d contacts each created by one card (%d cards linked to a contact the matcher knew, %d contacts merged by it since); the next run succeeded, created %d, deleted %d, pushed %d; %d multigets in all",
		atKill, cards, links, cards, contacts, cards-created, merged, nextCreated, deleted, pushed, multigets.Load()), verdict(t))
}
