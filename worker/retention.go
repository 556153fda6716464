package worker

import (
	"context"
	"fmt"
	"time"

	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/retention"
	"github.com/riverqueue/river"
)

// RetentionWorker works a retention policy's run, resuming it after its last committed batch
// when retried.
type RetentionWorker struct {
	river.WorkerDefaults[retention.RunArgs]
	Store *retention.Store
}

// Timeout lets a run take as long as it needs; it commits batch by batch.
func (w *RetentionWorker) Timeout(*river.Job[retention.RunArgs]) time.Duration { return -1 }

// Work runs the policy.
func (w *RetentionWorker) Work(ctx context.Context, job *river.Job[retention.RunArgs]) error {
	_, err := w.Store.Execute(ctx, job.Args.RunID)
	if err == nil || db.ErrorKind(err) == db.KindNotFound {
		return nil // done, or the policy was deleted with its run
	}
	if job.Attempt >= job.MaxAttempts || db.ErrorKind(err) == db.KindConflict {
		// The last attempt, or one that cannot succeed: the run must not stay "running" and
		// block its policy.
		if _, ferr := w.Store.Finish(context.WithoutCancel(ctx), job.Args.RunID, err); ferr == nil {
			return nil
		}
	}
	return fmt.Errorf("retention run %s: %w", job.Args.RunID, err)
}

// RetentionDueWorker queues the runs of the policies whose schedule is due.
type RetentionDueWorker struct {
	river.WorkerDefaults[retention.DueArgs]
	Store *retention.Store
}

// Work queues the due runs.
func (w *RetentionDueWorker) Work(ctx context.Context, _ *river.Job[retention.DueArgs]) error {
	_, err := w.Store.EnqueueDue(ctx)
	return err
}
