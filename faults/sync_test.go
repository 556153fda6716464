package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// TestKillWorkerMidSync kills the only worker while a sync run pulls pages from an http source
// (a slow test server), starts another, and checks the run finishes with every record once.
func TestKillWorkerMidSync(t *testing.T) {
	requireProcesses(t)
	t.Parallel()
	ctx := context.Background()
	const records, pageSize = 600, 50
	var pages atomic.Int64
	remote := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		from, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
		time.Sleep(300 * time.Millisecond)
		var items []map[string]any
		for i := from; i < from+pageSize && i < records; i++ {
			items = append(items, map[string]any{"id": fmt.Sprintf("r%d", i), "email": fmt.Sprintf("sync%d@example.com", i), "first": fmt.Sprintf("Sync%d", i)})
		}
		page := map[string]any{"items": items}
		if from+pageSize < records {
			page["next"] = strconv.Itoa(from + pageSize)
		}
		pages.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(page)
	}))
	defer remote.Close()
	pg := newCluster(t)
	e, pool, token := newEnv(t, pg.url())
	_, base := e.serve(t, "api")
	w1 := e.worker(t, "worker-1")
	api := newClient(base, token)
	var src struct {
		ID string `json:"id"`
	}
	api.mustJSON(t, http.MethodPost, "/api/sources", map[string]any{"type": "http", "name": "remote", "config": map[string]any{
		"url": remote.URL, "itemsPath": "items", "idPath": "id", "cursorParam": "cursor", "nextCursorPath": "next",
		"fieldMapping": map[string]string{"email": "email", "firstName": "first"}}}, http.StatusCreated, &src)
	var run struct {
		RunID string `json:"runId"`
	}
	api.mustJSON(t, http.MethodPost, "/api/sources/"+src.ID+"/sync", nil, http.StatusAccepted, &run)
	waitFor(t, 2*time.Minute, "the sync to pull a few pages", func() (bool, error) { return pages.Load() >= 4, nil })
	w1.kill9()
	atKill := pages.Load()
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
	var contacts, emails, links, runs, finished int
	if err := pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT email) FROM contacts`).Scan(&contacts, &emails); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM sync_links`).Scan(&links); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM sync_runs`).Scan(&runs); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE type = 'sync.finished'`).Scan(&finished); err != nil {
		t.Fatal(err)
	}
	if status != "succeeded" || contacts != records || emails != records || links != records || runs != 1 || finished != 1 {
		t.Errorf("run %s; %d contacts, %d emails, %d links, %d runs, %d sync.finished; want %d records once, one run, one event",
			status, contacts, emails, links, runs, finished, records)
	}
	if n, err := lostJobs(ctx, pool); err != nil || n != 0 {
		t.Errorf("%d jobs discarded or cancelled (%v)", n, err)
	}
	report("kill -9 worker mid-sync (http source)", fmt.Sprintf("killed after %d of %d pages; the same run resumed and succeeded: %d contacts and %d links for %d records, one sync.finished; %d pages fetched in all",
		atKill, records/pageSize, contacts, links, records, pages.Load()), verdict(t))
}
