package worker

import (
	"context"
	"fmt"
	"time"

	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/sync/source"
	"github.com/contactd/contactd/sync/syncengine"
	"github.com/riverqueue/river"
)

// SyncWorker works a source's run, resuming it from the last committed page when retried.
type SyncWorker struct {
	river.WorkerDefaults[source.RunArgs]
	Engine *syncengine.Engine
}

// Timeout lets a run take as long as it needs; it commits page by page.
func (w *SyncWorker) Timeout(*river.Job[source.RunArgs]) time.Duration { return -1 }

// Work runs the sync.
func (w *SyncWorker) Work(ctx context.Context, job *river.Job[source.RunArgs]) error {
	if _, err := w.Engine.Run(ctx, job.Args.RunID, nil); err != nil {
		if db.ErrorKind(err) == db.KindNotFound {
			return nil // the source was deleted with its queued run
		}
		if job.Attempt >= job.MaxAttempts {
			// The last attempt: the run must not stay "running" and block its source.
			_, ferr := w.Engine.Sources.FinishRun(context.WithoutCancel(ctx), job.Args.RunID, source.Stats{}, err)
			if ferr == nil {
				return nil
			}
		}
		return fmt.Errorf("sync run %s: %w", job.Args.RunID, err)
	}
	return nil
}

// SyncDueWorker queues the runs of the sources whose schedule is due.
type SyncDueWorker struct {
	river.WorkerDefaults[source.DueArgs]
	Sources *source.Store
}

// Work queues the due runs.
func (w *SyncDueWorker) Work(ctx context.Context, _ *river.Job[source.DueArgs]) error {
	_, err := w.Sources.EnqueueDue(ctx)
	return err
}
