package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The fault table: every fault test adds its rows, and TestMain prints them at the end.
var (
	tableMu sync.Mutex
	table   [][3]string
)

// report adds a row to the fault table: the fault, what was checked, the result.
func report(fault, checked, result string) {
	tableMu.Lock()
	defer tableMu.Unlock()
	table = append(table, [3]string{fault, checked, result})
}

// printTable prints the fault table as Markdown.
func printTable() {
	tableMu.Lock()
	defer tableMu.Unlock()
	if len(table) == 0 {
		return
	}
	sort.SliceStable(table, func(i, j int) bool { return table[i][0] < table[j][0] })
	fmt.Println("\n| fault | checked | result |\n|---|---|---|")
	for _, r := range table {
		fmt.Printf("| %s | %s | %s |\n", r[0], r[1], r[2])
	}
}

// verdict is "ok" or the failure.
func verdict(t *testing.T) string {
	if t.Failed() {
		return "FAILED"
	}
	return "ok"
}

// TestKillWorkerMidImport kills the only worker while an import runs, starts another, and
// checks the import finishes with every row imported exactly once.
func TestKillWorkerMidImport(t *testing.T) {
	requireProcesses(t)
	t.Parallel()
	ctx := context.Background()
	pg := newCluster(t)
	e, pool, token := newEnv(t, pg.url())
	_, base := e.serve(t, "api")
	w1 := e.worker(t, "worker-1")
	api := newClient(base, token)
	const rows = 30_000
	im := api.startImport(t, csvOf("kill", rows))
	var atKill importJSON
	waitFor(t, 3*time.Minute, "the import to be under way", func() (bool, error) {
		atKill = api.getImport(t, im.ID)
		return atKill.Processed > 0, nil
	})
	w1.kill9()
	if atKill.Status == "succeeded" {
		t.Fatalf("the import finished before the kill: make it bigger")
	}
	e.worker(t, "worker-2")
	var done importJSON
	waitFor(t, 5*time.Minute, "the import to finish after the kill", func() (bool, error) {
		done = api.getImport(t, im.ID)
		return done.Status == "succeeded" || done.Status == "failed", nil
	})
	waitFor(t, 3*time.Minute, "every job to finish", func() (bool, error) {
		n, err := pendingJobs(ctx, pool)
		return n == 0, err
	})
	var contacts, emails, audits int
	if err := pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT email) FROM contacts`).Scan(&contacts, &emails); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'import'`).Scan(&audits); err != nil {
		t.Fatal(err)
	}
	if done.Status != "succeeded" || done.Created != rows || contacts != rows || emails != rows || audits != rows {
		t.Errorf("import %s, created %d; %d contacts, %d emails, %d import audits; want %d each", done.Status, done.Created, contacts, emails, audits, rows)
	}
	if n, err := lostJobs(ctx, pool); err != nil || n != 0 {
		t.Errorf("%d jobs discarded or cancelled (%v)", n, err)
	}
	report("kill -9 worker mid-import", fmt.Sprintf("killed at %d/%d rows; import succeeded, %d contacts for %d rows, one import audit each, all jobs finished", atKill.Processed, rows, contacts, rows), verdict(t))
}

// TestKillWorkerMidWebhookDelivery kills the only worker while it delivers to a slow receiver,
// starts another, and checks every event arrives, in order of first arrival, and what was sent
// twice carries the same Webhook-Id (at-least-once delivery).
func TestKillWorkerMidWebhookDelivery(t *testing.T) {
	requireProcesses(t)
	t.Parallel()
	ctx := context.Background()
	pg := newCluster(t)
	e, pool, token := newEnv(t, pg.url())
	var mu sync.Mutex
	var ids []string
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		ids = append(ids, r.Header.Get("Webhook-Id"))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rc.Close()
	_, base := e.serve(t, "api")
	w1 := e.worker(t, "worker-1")
	api := newClient(base, token)
	api.mustJSON(t, http.MethodPost, "/api/webhooks", map[string]any{"url": rc.URL, "events": []string{"contact.created"}}, http.StatusCreated, nil)
	const n = 300
	items := make([]map[string]any, n)
	for i := range items {
		items[i] = map[string]any{"firstName": fmt.Sprintf("Hook%d", i), "email": fmt.Sprintf("hook%d@example.com", i)}
	}
	api.mustJSON(t, http.MethodPost, "/api/contacts/batch", map[string]any{"mode": "create", "matchOn": "email", "contacts": items}, http.StatusOK, nil)
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(ids) }
	waitFor(t, 2*time.Minute, "deliveries to start", func() (bool, error) { return count() >= 30, nil })
	w1.kill9()
	atKill := count()
	e.worker(t, "worker-2")
	distinct := func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		m := map[string]int{}
		for _, id := range ids {
			m[id]++
		}
		return m
	}
	waitFor(t, 5*time.Minute, "every event to be delivered", func() (bool, error) { return len(distinct()) >= n, nil })
	waitFor(t, 3*time.Minute, "every job to finish", func() (bool, error) {
		p, err := pendingJobs(ctx, pool)
		return p == 0, err
	})
	got := distinct()
	twice := 0
	for _, c := range got {
		twice += c - 1
	}
	mu.Lock()
	first := map[string]bool{}
	var order []int
	for _, id := range ids {
		if !first[id] {
			first[id] = true
			var seq int
			fmt.Sscanf(strings.TrimPrefix(id, "evt_"), "%d", &seq)
			order = append(order, seq)
		}
	}
	mu.Unlock()
	if !sort.IntsAreSorted(order) {
		t.Errorf("events first arrived out of order: %v", order)
	}
	if len(got) != n {
		t.Errorf("%d distinct events delivered, want %d", len(got), n)
	}
	report("kill -9 worker mid-webhook-delivery", fmt.Sprintf("killed after %d of %d deliveries; all %d events arrived, in seq order; %d resent with the same Webhook-Id (at-least-once)", atKill, n, len(got), twice), verdict(t))
}

// TestPostgresRestartUnderWrites restarts PostgreSQL while four clients create contacts, each
// retrying with its Idempotency-Key on 503 or a broken connection. No answer may be a 500, every
// 503 carries Retry-After, and afterwards every contact exists exactly once.
func TestPostgresRestartUnderWrites(t *testing.T) {
	requireProcesses(t)
	t.Parallel()
	ctx := context.Background()
	pg := newCluster(t)
	e, pool, token := newEnv(t, pg.url())
	_, base := e.serve(t, "api")
	e.worker(t, "worker-1")
	api := newClient(base, token)
	var statuses sync.Map // status -> *atomic.Int64
	count := func(s int) {
		v, _ := statuses.LoadOrStore(s, new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
	}
	var noRetryAfter, created atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				email := fmt.Sprintf("w%d-%d@example.com", w, i)
				body := fmt.Sprintf(`{"firstName": "W%d", "email": %q}`, w, email)
				for attempt := 0; ; attempt++ {
					status, h, _, err := api.do(http.MethodPost, "/api/contacts", "application/json", []byte(body), "Idempotency-Key", email)
					if err != nil {
						count(0)
					} else {
						count(status)
					}
					if status == http.StatusServiceUnavailable && h.Get("Retry-After") == "" {
						noRetryAfter.Add(1)
					}
					// 201 created; 409 without Retry-After on a retry: an earlier attempt's work
					// committed but its response was lost (or its email exists: it created it).
					// 409 with Retry-After is the key still held by an earlier attempt: retry.
					if status == http.StatusCreated || (status == http.StatusConflict && attempt > 0 && h.Get("Retry-After") == "") {
						created.Add(1)
						break
					}
					if attempt > 1200 {
						t.Errorf("%s: still %d after %d attempts", email, status, attempt)
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	time.Sleep(2 * time.Second)
	pg.restart(t, 3*time.Second)
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()
	var summary []string
	statuses.Range(func(k, v any) bool {
		summary = append(summary, fmt.Sprintf("%v: %d", k, v.(*atomic.Int64).Load()))
		return true
	})
	sort.Strings(summary)
	if v, ok := statuses.Load(http.StatusInternalServerError); ok && v.(*atomic.Int64).Load() > 0 {
		t.Errorf("%d answers were 500 during the restart", v.(*atomic.Int64).Load())
	}
	if noRetryAfter.Load() > 0 {
		t.Errorf("%d answers of 503 had no Retry-After", noRetryAfter.Load())
	}
	waitFor(t, 3*time.Minute, "every job to finish", func() (bool, error) {
		p, err := pendingJobs(ctx, pool)
		return p == 0, err
	})
	var contacts, emails, audits, normalized int
	if err := pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT email), count(*) FILTER (WHERE normalized_at IS NOT NULL) FROM contacts`).Scan(&contacts, &emails, &normalized); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'create' AND entity_type = 'contact'`).Scan(&audits); err != nil {
		t.Fatal(err)
	}
	if int64(contacts) != created.Load() || emails != contacts || audits != contacts || normalized != contacts {
		t.Errorf("%d creates acknowledged; %d contacts, %d emails, %d create audits, %d normalized", created.Load(), contacts, emails, audits, normalized)
	}
	var ready int
	if status, _, _, err := api.do(http.MethodGet, "/readyz", "", nil); err == nil {
		ready = status
	}
	report("PostgreSQL restart (3 s down) under 4 writers", fmt.Sprintf("answers {%s} (0 = connection error); %d contacts, each once, audited and normalized; /readyz %d after", strings.Join(summary, ", "), contacts, ready), verdict(t))
}

var _ = json.Marshal
