package faults

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestScaleOut runs two API processes (serve --no-workers) and two workers on one database,
// drives creates and an import through both APIs, and checks that the workers shared the jobs,
// that nothing was done twice and that everything finished.
func TestScaleOut(t *testing.T) {
	requireProcesses(t)
	t.Parallel()
	ctx := context.Background()
	e, pool, token := newEnv(t, sharedServer())
	_, urlA := e.serve(t, "api-a")
	_, urlB := e.serve(t, "api-b")
	e.worker(t, "worker-1")
	e.worker(t, "worker-2")
	apis := []*client{newClient(urlA, token), newClient(urlB, token)}

	const creates, importRows = 200, 5000
	imports := []importJSON{apis[0].startImport(t, csvOf("imp-a", importRows)), apis[1].startImport(t, csvOf("imp-b", importRows))}
	var wg sync.WaitGroup
	errs := make(chan error, creates)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < creates; i += 8 {
				body := fmt.Sprintf(`{"firstName": "Create%d", "email": "create%d@example.com"}`, i, i)
				status, _, b, err := apis[i%2].do(http.MethodPost, "/api/contacts", "application/json", []byte(body))
				if err != nil || status != http.StatusCreated {
					errs <- fmt.Errorf("create %d: %d %s (%v)", i, status, b, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, im := range imports {
		waitFor(t, 2*time.Minute, "import "+im.ID, func() (bool, error) {
			got := apis[1-i].getImport(t, im.ID)
			if got.Status == "failed" || got.Status == "cancelled" {
				return false, fmt.Errorf("import %s", got.Status)
			}
			imports[i] = got
			return got.Status == "succeeded", nil
		})
		if imports[i].Created != importRows || imports[i].Failed != 0 {
			t.Errorf("import %d created %d, failed %d, want %d created", i, imports[i].Created, imports[i].Failed, importRows)
		}
	}
	waitFor(t, 3*time.Minute, "every job to finish", func() (bool, error) {
		n, err := pendingJobs(ctx, pool)
		return n == 0, err
	})

	total := creates + 2*importRows
	var contacts, emails, normalized, createdAudits, createdEvents int
	if err := pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT email), count(*) FILTER (WHERE normalized_at IS NOT NULL) FROM contacts`).
		Scan(&contacts, &emails, &normalized); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE entity_type = 'contact' AND action IN ('create', 'import')`).Scan(&createdAudits); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE type = 'contact.created'`).Scan(&createdEvents); err != nil {
		t.Fatal(err)
	}
	if contacts != total || emails != total || createdAudits != total || createdEvents != total {
		t.Errorf("%d contacts, %d emails, %d create audits, %d contact.created events; want %d of each", contacts, emails, createdAudits, createdEvents, total)
	}
	if normalized != total {
		t.Errorf("%d of %d contacts normalized", normalized, total)
	}
	// Who worked what: River records each attempt's client; the API processes run none.
	rows, err := pool.Query(ctx, `SELECT attempted_by[1], count(*), count(*) FILTER (WHERE attempt > 1)
		FROM river_job WHERE state = 'completed' GROUP BY 1 ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	type share struct {
		client        string
		jobs, retried int
	}
	var shares []share
	for rows.Next() {
		var s share
		if err := rows.Scan(&s.client, &s.jobs, &s.retried); err != nil {
			t.Fatal(err)
		}
		shares = append(shares, s)
		t.Logf("worker %s: %d jobs (%d retried)", s.client, s.jobs, s.retried)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	if len(shares) != 2 {
		t.Fatalf("jobs were worked by %d clients, want the 2 workers", len(shares))
	}
	for _, s := range shares {
		if s.jobs < 10 {
			t.Errorf("worker %s worked only %d jobs: the work was not shared", s.client, s.jobs)
		}
	}
	var importers int
	if err := pool.QueryRow(ctx, `SELECT count(DISTINCT attempted_by[1]) FROM river_job WHERE kind IN ('import_file', 'dedupe_batch')`).Scan(&importers); err != nil {
		t.Fatal(err)
	}
	t.Logf("import jobs and their batch checks ran on %d workers", importers)
	if n, err := lostJobs(ctx, pool); err != nil || n != 0 {
		t.Errorf("%d jobs discarded or cancelled (%v)", n, err)
	}
}
