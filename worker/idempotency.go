package worker

import (
	"context"
	"time"

	"github.com/contactd/contactd/idempotency"
	"github.com/riverqueue/river"
)

// idempotencyCleanEvery is how often expired idempotency keys are deleted.
const idempotencyCleanEvery = time.Hour

// IdempotencyCleanWorker deletes expired idempotency keys, a bounded number per round.
type IdempotencyCleanWorker struct {
	river.WorkerDefaults[idempotency.CleanArgs]
	Store *idempotency.Store
}

// Work deletes expired keys until none is left or the job is cancelled.
func (w *IdempotencyCleanWorker) Work(ctx context.Context, job *river.Job[idempotency.CleanArgs]) error {
	var total int64
	for {
		n, err := w.Store.DeleteExpired(ctx, 10000)
		if err != nil {
			return err
		}
		total += n
		if n < 10000 {
			return river.RecordOutput(ctx, map[string]int64{"deleted": total})
		}
	}
}
