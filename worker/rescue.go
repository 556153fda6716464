package worker

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/contactd/contactd/dedupe"
	"github.com/contactd/contactd/importer"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/retention"
	"github.com/contactd/contactd/sync/source"
	"github.com/contactd/contactd/webhook"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// River rescues a stuck job only once its timeout has passed (and only after
// RescueStuckJobsAfter), and never one without a timeout. The long jobs (imports, scans,
// import batch checks, training, sync runs) have none: they run as long as their data needs,
// and each is resumable from its own checkpoints. A webhook's stream is one job per webhook, so
// a stuck one holds every delivery of its webhook back. So that such a job whose process died
// (kill -9, a lost machine) runs again soon, it holds a session advisory lock, its liveness
// lock, on a connection of its own while it runs; the connection and the lock die with the
// process. A periodic job makes the running ones whose lock nobody holds available again.

// longKinds are the job kinds that hold a liveness lock while they run.
var longKinds = []string{
	importer.Args{}.Kind(), dedupe.ScanArgs{}.Kind(), dedupe.BatchArgs{}.Kind(), dedupe.TrainArgs{}.Kind(),
	source.RunArgs{}.Kind(), webhook.DeliverArgs{}.Kind(), retention.RunArgs{}.Kind(),
}

// rescueGrace is how long a long job may run before it holds its liveness lock: a running job
// younger than this is never rescued.
const rescueGrace = 30 * time.Second

// rescueEvery is how often orphaned long jobs are looked for.
const rescueEvery = 15 * time.Second

// livenessKey is the SQL of the advisory lock key of the liveness lock of the job whose id is
// the SQL expression id.
func livenessKey(id string) string { return `hashtextextended('contactd_job_alive:' || ` + id + `, 0)` }

// liveness is the worker middleware that holds a long job's liveness lock while it runs.
func liveness(pool *pgxpool.Pool) rivertype.WorkerMiddleware {
	return river.WorkerMiddlewareFunc(func(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
		if !slices.Contains(longKinds, job.Kind) {
			return doInner(ctx)
		}
		conn, err := pool.Acquire(ctx)
		if err != nil {
			return fmt.Errorf("worker: liveness lock of job %d: %w", job.ID, err)
		}
		// The connection goes back to the pool only if its lock could be released: a
		// connection that still held it would keep the job from ever being rescued.
		defer func() {
			var released bool
			if err := conn.QueryRow(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+livenessKey("$1::bigint")+`)`, job.ID).Scan(&released); err != nil || !released {
				_ = conn.Conn().Close(context.WithoutCancel(ctx))
			}
			conn.Release()
		}()
		var locked bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(`+livenessKey("$1::bigint")+`)`, job.ID).Scan(&locked); err != nil {
			return fmt.Errorf("worker: liveness lock of job %d: %w", job.ID, err)
		}
		if !locked {
			return fmt.Errorf("worker: job %d is running in another process", job.ID)
		}
		return doInner(ctx)
	})
}

// RescueArgs asks for the orphaned long jobs to be made available again (a periodic job).
type RescueArgs struct{}

// Kind is the job's stable kind name.
func (RescueArgs) Kind() string { return "rescue_orphaned_jobs" }

// InsertOpts keeps one rescue pending at a time, on the default queue (not behind the long
// jobs it rescues).
func (RescueArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: db.ActiveJobStates}, MaxAttempts: 1}
}

// RescueWorker makes available again the running long jobs whose process died: older than the
// grace and with no liveness lock held.
type RescueWorker struct {
	river.WorkerDefaults[RescueArgs]
	DB *db.DB
}

// Work rescues what it finds and records the job ids.
func (w *RescueWorker) Work(ctx context.Context, job *river.Job[RescueArgs]) error {
	ids, err := rescueOrphans(ctx, w.DB)
	if err != nil {
		return err
	}
	return river.RecordOutput(ctx, map[string][]int64{"rescued": ids})
}

// rescueOrphans makes the orphaned long jobs available again and returns their ids.
func rescueOrphans(ctx context.Context, d *db.DB) ([]int64, error) {
	rows, err := d.Pool.Query(ctx, `
		UPDATE river_job SET state = 'available', scheduled_at = now()
		WHERE id IN (
			SELECT id FROM river_job
			WHERE state = 'running' AND kind = ANY($1) AND attempted_at < now() - make_interval(secs => $2))
		AND state = 'running' AND pg_try_advisory_xact_lock(`+livenessKey("id")+`)
		RETURNING id`, longKinds, rescueGrace.Seconds())
	if err != nil {
		return nil, fmt.Errorf("worker: rescue orphaned jobs: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("worker: rescue orphaned jobs: %w", err)
	}
	return ids, nil
}
