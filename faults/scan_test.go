package faults

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// scanRows is how many generated contacts the mid-scan test imports: about a third of the
// people have duplicates, enough for thousands of clusters, many merge chunks.
const scanRows = 30_000

// TestKillWorkerMidScan kills the only worker while a full duplicate scan merges, starts
// another, and checks the scan ends succeeded with every contact merged at most once, none
// lost, the merge chains sound, and the same clusters as a scan of the same data that was not
// killed; a second scan then finds nothing left to merge.
func TestKillWorkerMidScan(t *testing.T) {
	requireProcesses(t)
	t.Parallel()
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "contacts.csv")
	gen := exec.Command("go", "run", "../tools/benchdata", "-n", fmt.Sprint(scanRows), "-seed", "13", "-out", file)
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("benchdata: %v\n%s", err, out)
	}
	pg := newCluster(t)
	ek, kpool, _ := newEnv(t, pg.url())
	er, rpool, _ := newEnv(t, pg.url())
	// The same data in both databases, loaded with no worker running; the duplicate checks the
	// imports queued are dropped, so that the scan is what finds the duplicates (as for data
	// loaded before the matcher was trusted).
	for _, d := range []struct {
		e    env
		pool *pgxpool.Pool
	}{{ek, kpool}, {er, rpool}} {
		d.e.run(t, "import", "--file", file, "--source", "bench")
		if _, err := d.pool.Exec(ctx, `DELETE FROM river_job WHERE kind IN ('dedupe_batch', 'dedupe_contact')`); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := d.pool.QueryRow(ctx, `SELECT count(*) FROM contacts WHERE status = 'active'`).Scan(&n); err != nil || n != scanRows {
			t.Fatalf("imported %d active contacts (%v), want %d", n, err, scanRows)
		}
	}
	// The reference: a scan not killed, run in the command's own process.
	er.run(t, "dedupe", "--wait")

	w1 := ek.worker(t, "worker-1")
	out := ek.run(t, "dedupe")
	runID := strings.TrimSuffix(strings.Fields(strings.TrimPrefix(out, "queued dedupe run "))[0], ";")
	var atKill, runMerges int
	var status string
	waitFor(t, 10*time.Minute, "the scan to merge", func() (bool, error) {
		if err := kpool.QueryRow(ctx, `SELECT status FROM dedupe_runs WHERE id = $1`, runID).Scan(&status); err != nil {
			return false, err
		}
		if status != "running" && status != "queued" {
			return true, nil
		}
		err := kpool.QueryRow(ctx, `SELECT count(*) FROM merges`).Scan(&atKill)
		return atKill > 0, err
	})
	w1.kill9()
	if err := kpool.QueryRow(ctx, `SELECT status, count(m.id) FROM dedupe_runs r, merges m WHERE r.id = $1 GROUP BY status`, runID).Scan(&status, &atKill); err != nil {
		t.Fatal(err)
	}
	if status != "running" {
		t.Fatalf("the scan was %s at the kill, %d merges: make the data bigger", status, atKill)
	}
	ek.worker(t, "worker-2")
	waitFor(t, 10*time.Minute, "the scan to finish after the kill", func() (bool, error) {
		err := kpool.QueryRow(ctx, `SELECT status, coalesce((stats->>'merges')::int, 0) FROM dedupe_runs WHERE id = $1`, runID).Scan(&status, &runMerges)
		return status == "succeeded" || status == "failed", err
	})
	if status != "succeeded" {
		t.Errorf("the killed scan ended %s", status)
	}
	waitFor(t, 3*time.Minute, "every job to finish", func() (bool, error) {
		n, err := pendingJobs(ctx, kpool)
		return n == 0, err
	})
	if n, err := lostJobs(ctx, kpool); err != nil || n != 0 {
		t.Errorf("%d jobs discarded or cancelled (%v)", n, err)
	}
	merges, merged := checkMerges(t, kpool)

	// The same clusters as the scan that was not killed.
	got, want := clusters(t, kpool), clusters(t, rpool)
	differ := 0
	for k := range want {
		if !got[k] {
			differ++
		}
	}
	for k := range got {
		if !want[k] {
			differ++
		}
	}
	if differ != 0 || len(got) != len(want) {
		t.Errorf("%d clusters after the kill, %d without; %d differ", len(got), len(want), differ)
	}
	// Nothing left for a second scan to merge.
	again := ek.run(t, "dedupe", "--wait")
	if !strings.Contains(again, `"merges": 0,`) {
		t.Errorf("a second scan merged more:\n%s", again)
	}
	report("kill -9 worker mid-scan", fmt.Sprintf("%d contacts; killed after %d merges; run succeeded (%d merges after the restart, %d in all, %d contacts merged), each merged contact in one merge, chains end at an active contact, none lost; %d clusters, the same as an unkilled scan's (%d differ); a second scan merged none; all jobs finished",
		scanRows, atKill, runMerges, merges, merged, len(got), differ), verdict(t))
}

// checkMerges checks the merges of a database against its contacts: none lost, every merged
// contact named by exactly one merge and pointing to a contact that leads to an active one, no
// active contact pointing anywhere. It returns the merges and the contacts merged.
func checkMerges(t *testing.T, pool *pgxpool.Pool) (merges, merged int) {
	t.Helper()
	ctx := context.Background()
	var total, active int
	if err := pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE status = 'active'), count(*) FILTER (WHERE status = 'merged') FROM contacts`).Scan(&total, &active, &merged); err != nil {
		t.Fatal(err)
	}
	if total != scanRows || active+merged != scanRows {
		t.Errorf("%d contacts, %d active and %d merged; want %d, all active or merged", total, active, merged, scanRows)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM merges WHERE undone_at IS NULL`).Scan(&merges); err != nil {
		t.Fatal(err)
	}
	checks := []struct{ what, sql string }{
		{"merged contacts not named by exactly one merge", `SELECT count(*) FROM (
			SELECT c.id FROM contacts c LEFT JOIN merges m ON c.id = ANY (m.merged_ids) AND m.undone_at IS NULL
			WHERE c.status = 'merged' GROUP BY c.id HAVING count(m.id) <> 1) x`},
		{"contacts a merge names that are not merged into its survivor", `SELECT count(*) FROM merges m
			CROSS JOIN LATERAL unnest(m.merged_ids) AS x(id) JOIN contacts c ON c.id = x.id
			WHERE m.undone_at IS NULL AND (c.status <> 'merged' OR c.merged_into IS DISTINCT FROM m.survivor_id)`},
		{"contacts named twice by merges", `SELECT count(*) FROM (SELECT x.id FROM merges m
			CROSS JOIN LATERAL unnest(m.merged_ids) AS x(id) WHERE m.undone_at IS NULL GROUP BY x.id HAVING count(*) > 1) d`},
		{"active contacts with merged_into set", `SELECT count(*) FROM contacts WHERE status = 'active' AND merged_into IS NOT NULL`},
		{"merged contacts without merged_into", `SELECT count(*) FROM contacts WHERE status = 'merged' AND merged_into IS NULL`},
		{"merged contacts whose chain does not end at an active contact within 50 steps", `
			WITH RECURSIVE chain(start, id, depth) AS (
				SELECT id, merged_into, 1 FROM contacts WHERE status = 'merged'
				UNION ALL
				SELECT ch.start, c.merged_into, ch.depth + 1 FROM chain ch JOIN contacts c ON c.id = ch.id
				WHERE c.merged_into IS NOT NULL AND ch.depth < 50)
			SELECT count(*) FROM (SELECT start FROM chain ch JOIN contacts c ON c.id = ch.id
				GROUP BY start HAVING bool_or(c.status = 'active' AND c.merged_into IS NULL) IS NOT TRUE) bad`},
	}
	for _, c := range checks {
		var n int
		if err := pool.QueryRow(ctx, c.sql).Scan(&n); err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		if n != 0 {
			t.Errorf("%d %s", n, c.what)
		}
	}
	return merges, merged
}

// clusters returns a database's clusters of two or more contacts, each as the sorted external
// ids of its imported rows joined by commas (a merge may move a row's external id to the
// survivor: it stays in its cluster either way).
func clusters(t *testing.T, pool *pgxpool.Pool) map[string]bool {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		WITH RECURSIVE root(id, root) AS (
			SELECT id, id FROM contacts WHERE merged_into IS NULL
			UNION ALL
			SELECT c.id, r.root FROM contacts c JOIN root r ON c.merged_into = r.id)
		SELECT array_agg(x.external_id) FROM external_refs x JOIN root r ON r.id = x.contact_id
		GROUP BY r.root HAVING count(*) > 1`)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := pgx.CollectRows(rows, pgx.RowTo[[]string])
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]bool, len(groups))
	for _, g := range groups {
		slices.Sort(g)
		out[strings.Join(g, ",")] = true
	}
	return out
}
