// Command retentionbench measures a retention run over a generated database: it creates a fresh
// database (contactd_retentionbench on DATABASE_URL's server), loads -n contacts with COPY
// (their create audit entries, communications for some, consent grants for others), then
// dry-runs and runs an archive policy {inactiveDays: 365, noLawfulBasis: true} through the
// retention store as the worker does, and prints the times, the contacts changed and the peak
// memory of the process. With -erase N, N contacts spread over the database are tagged and an
// erase policy on the tag is then dry-run and run, through the real erasure, over a database
// that also holds an import error row quoting every tenth contact's email: the erasure's
// lookups of copies are timed at scale. It drops the database at the end unless -keep.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/contactd/contactd/internal/app"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/internal/fakedata"
	"github.com/contactd/contactd/migrations"
	"github.com/contactd/contactd/retention"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func main() {
	n := flag.Int("n", 1000000, "contacts to generate")
	keep := flag.Bool("keep", false, "keep the database afterwards")
	batch := flag.Int("batch", retention.DefaultBatchSize, "contacts per transaction of the run")
	erase := flag.Int("erase", 0, "contacts an erase policy then erases (0: none)")
	archive := flag.Bool("archive", true, "run the archive policy (false: the erase policy alone)")
	flag.StringVar(&dbName, "db", "contactd_retentionbench", "the database to create (and drop)")
	flag.Parse()
	if err := run(context.Background(), *n, *batch, *erase, *archive, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "retentionbench:", err)
		os.Exit(1)
	}
}

// dbName is the database the benchmark creates.
var dbName string

func run(ctx context.Context, n, batch, erase int, archive, keep bool) error {
	server := cmp.Or(os.Getenv("DATABASE_URL"), "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	cfg, err := pgx.ParseConfig(server)
	if err != nil {
		return err
	}
	admin, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer admin.Close(context.WithoutCancel(ctx))
	if _, err := admin.Exec(ctx, `DROP DATABASE IF EXISTS `+dbName+` WITH (FORCE)`); err != nil {
		return err
	}
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+dbName); err != nil {
		return err
	}
	if !keep {
		defer func() {
			_, _ = admin.Exec(context.WithoutCancel(ctx), `DROP DATABASE IF EXISTS `+dbName+` WITH (FORCE)`)
		}()
	}
	pc, err := pgxpool.ParseConfig(server)
	if err != nil {
		return err
	}
	pc.ConnConfig.Database = dbName
	pc.MaxConns = 4
	pc.AfterConnect = db.AfterConnect
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := migrations.Up(ctx, pool); err != nil {
		return err
	}
	start := time.Now()
	if err := generate(ctx, pool, n); err != nil {
		return err
	}
	fmt.Printf("generated %d contacts with COPY in %.1fs\n", n, time.Since(start).Seconds())

	a, err := app.New(pool)
	if err != nil {
		return err
	}
	a.Retention.BatchSize = batch
	if !archive {
		return eraseRun(ctx, pool, a, n, erase, batch)
	}
	runtime.GC()
	t, err := timedPolicy(ctx, a, n, "", retention.NewPolicy{Name: "bench", Action: retention.ActionArchive,
		Filter: json.RawMessage(`{"inactiveDays": 365, "noLawfulBasis": true}`)})
	if err != nil {
		return err
	}
	p, r, took := t.p, t.r, t.took
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("run: %s, matched %d, archived %d in %.1fs (%.0f contacts/s, batches of %d)\n", r.Status, r.Matched, r.Processed,
		took.Seconds(), float64(r.Processed)/took.Seconds(), batch)
	fmt.Printf("memory: peak Go heap in use %.1f MiB, peak RSS %.1f MiB\n", t.peak, float64(ru.Maxrss)/1024)
	var audited int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE actor = $1`, retention.Actor(p.ID)).Scan(&audited); err != nil {
		return err
	}
	if audited != r.Processed || r.Processed != t.matched {
		return fmt.Errorf("dry run matched %d, run archived %d, audited %d", t.matched, r.Processed, audited)
	}
	if erase > 0 {
		return eraseRun(ctx, pool, a, n, erase, batch)
	}
	return nil
}

// eraseRun tags erase contacts spread over the n, adds an import error row quoting every tenth
// contact's email, and dry-runs and runs an erase policy on the tag.
func eraseRun(ctx context.Context, pool *pgxpool.Pool, a *app.App, n, erase, batch int) error {
	start := time.Now()
	_, err := pool.Exec(ctx, fmt.Sprintf(`
		INSERT INTO tags (id, name, name_key) VALUES ('00000000-0000-0000-0000-0000000000e1', 'erase-me', 'erase-me');
		INSERT INTO contact_tags (contact_id, tag_id)
			SELECT id, '00000000-0000-0000-0000-0000000000e1' FROM (SELECT id, row_number() OVER (ORDER BY id) r FROM contacts) c
			WHERE r %% %d = 0;
		CREATE TABLE bench_erased AS SELECT c.email FROM contacts c JOIN contact_tags t ON t.contact_id = c.id;
		INSERT INTO imports (id, source, format, file_sha256, file_size, mode, default_region, actor)
			VALUES ('00000000-0000-0000-0000-0000000000e2', 'bench', 'csv', 'x', 1, 'skip', 'US', 'bench');
		INSERT INTO import_errors (import_id, row_index, seq, line, field, message)
			SELECT '00000000-0000-0000-0000-0000000000e2', r, 1, r + 1, 'email', '"' || email || '" is taken'
			FROM (SELECT email, row_number() OVER (ORDER BY id) r FROM contacts) c WHERE r %% 10 = 0;
		ANALYZE`, max(1, n/erase)))
	if err != nil {
		return err
	}
	fmt.Printf("erase fixture: tagged every %dth contact, %d import error rows, in %.1fs\n", max(1, n/erase), n/10, time.Since(start).Seconds())
	t, err := timedPolicy(ctx, a, n, "erase ", retention.NewPolicy{Name: "bench-erase", Action: retention.ActionErase,
		Filter: json.RawMessage(`{"tag": "erase-me", "status": "all"}`)})
	if err != nil {
		return err
	}
	r, took := t.r, t.took
	fmt.Printf("erase run: %s, matched %d, erased %d in %.1fs (%.0f contacts/s, batches of %d), peak Go heap in use %.1f MiB\n",
		r.Status, r.Matched, r.Processed, took.Seconds(), float64(r.Processed)/took.Seconds(), batch, t.peak)
	var left, tombstones int64
	if err := pool.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM import_errors e JOIN bench_erased b ON e.message = '"' || b.email || '" is taken'),
			(SELECT count(*) FROM contacts WHERE status = 'erased')`).Scan(&left, &tombstones); err != nil {
		return err
	}
	if tombstones != t.matched || r.Processed != t.matched {
		return fmt.Errorf("dry run matched %d, run erased %d, %d tombstones", t.matched, r.Processed, tombstones)
	}
	var quoted int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM import_errors WHERE message = $1`, "[erased]").Scan(&quoted); err != nil {
		return err
	}
	fmt.Printf("erase: %d import error rows scrubbed, %d still quoting an erased contact\n", quoted, left)
	if left != 0 {
		return fmt.Errorf("%d import error rows still quote an erased contact", left)
	}
	return nil
}

// timed is a policy's timed dry run and run.
type timed struct {
	p       *retention.Policy
	matched int64 // by the dry run
	r       *retention.Run
	took    time.Duration // the run's
	peak    float64       // MiB of Go heap in use, at the most, meanwhile
}

// timedPolicy creates the policy, prints its dry run (label first), then runs it.
func timedPolicy(ctx context.Context, a *app.App, n int, label string, np retention.NewPolicy) (*timed, error) {
	p, err := a.Retention.Create(ctx, np)
	if err != nil {
		return nil, err
	}
	var peak atomic.Uint64
	stop := sampleHeap(&peak)
	defer stop()
	start := time.Now()
	dry, err := a.Retention.DryRun(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	fmt.Printf("%sdry run: %d of %d contacts match, in %.1fs\n", label, dry.Matched, n, time.Since(start).Seconds())
	start = time.Now()
	r, _, err := a.Retention.StartRun(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	if r, err = a.Retention.Execute(ctx, r.ID); err != nil {
		return nil, err
	}
	return &timed{p: p, matched: dry.Matched, r: r, took: time.Since(start), peak: float64(peak.Load()) / (1 << 20)}, nil
}

// sampleHeap records the peak of the Go heap in use until the returned stop is called.
func sampleHeap(peak *atomic.Uint64) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-finished }
}

// generate loads n contacts last changed 0-1,000 days ago (about 63% over a year), each with
// its create audit entry; a tenth have a communication in the last 100 days and a fifth a
// marketing grant, so both probes of the policy's filter have work.
func generate(ctx context.Context, pool *pgxpool.Pool, n int) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	// The generated history is not a change feed: no events for it.
	if _, err := conn.Exec(ctx, `ALTER TABLE audit_log DISABLE TRIGGER audit_log_events`); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(7, 11))
	now := time.Now()
	ids := make([]uuid.UUID, n)
	at := make([]time.Time, n)
	for i := range ids {
		ids[i] = uuid.Must(uuid.NewV7())
		at[i] = now.Add(-time.Duration(rng.Float64()*1000*24) * time.Hour)
	}
	first, last := fakedata.FirstNames, fakedata.LastNames
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"contacts"},
		[]string{"id", "first_name", "last_name", "email", "email_normalized", "status", "created_at", "updated_at"},
		pgx.CopyFromFunc(func() func() ([]any, error) {
			i := -1
			return func() ([]any, error) {
				i++
				if i == n {
					return nil, nil
				}
				f, l := first[i%len(first)], last[(i/len(first))%len(last)]
				email := fmt.Sprintf("%s.%s%d@example.com", f, l, i)
				return []any{ids[i], f, l, email, email, "active", at[i], at[i]}, nil
			}
		}()))
	if err != nil {
		return fmt.Errorf("copy contacts: %w", err)
	}
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"audit_log"},
		[]string{"at", "actor", "action", "entity_type", "entity_id", "contact_id", "changes"},
		pgx.CopyFromSlice(n, func(i int) ([]any, error) {
			return []any{at[i], "import", "create", "contact", ids[i], ids[i], json.RawMessage(`{}`)}, nil
		}))
	if err != nil {
		return fmt.Errorf("copy audit: %w", err)
	}
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"communications"},
		[]string{"id", "contact_id", "channel", "direction", "subject", "occurred_at", "actor"},
		pgx.CopyFromSlice(n/10, func(i int) ([]any, error) {
			return []any{uuid.Must(uuid.NewV7()), ids[i*10], "email", "inbound", "hello",
				now.Add(-time.Duration(rng.IntN(100*24)) * time.Hour), "bench"}, nil
		}))
	if err != nil {
		return fmt.Errorf("copy communications: %w", err)
	}
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"consent_events"},
		[]string{"id", "contact_id", "channel", "purpose", "status", "lawful_basis", "source", "captured_at", "actor"},
		pgx.CopyFromSlice(n/5, func(i int) ([]any, error) {
			return []any{uuid.Must(uuid.NewV7()), ids[i*5+1], "email", "marketing", "granted", "consent", "form",
				at[i*5+1], "bench"}, nil
		}))
	if err != nil {
		return fmt.Errorf("copy consent events: %w", err)
	}
	if _, err := conn.Exec(ctx, `ALTER TABLE audit_log ENABLE TRIGGER audit_log_events`); err != nil {
		return err
	}
	_, err = conn.Exec(ctx, `VACUUM ANALYZE`)
	return err
}
