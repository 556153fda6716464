package worker

import (
	"context"
	"time"

	"github.com/contactd/contactd/webhook"
	"github.com/riverqueue/river"
)

// WebhookWorker runs one webhook's ordered delivery stream.
type WebhookWorker struct {
	river.WorkerDefaults[webhook.DeliverArgs]
	Store *webhook.Store
}

// Timeout leaves a stream its time budget and one attempt's timeout.
func (w *WebhookWorker) Timeout(*river.Job[webhook.DeliverArgs]) time.Duration {
	return time.Minute
}

// Work delivers what the webhook has pending; a failed attempt snoozes the job (which does not
// count against its attempts) for the stream's own backoff.
func (w *WebhookWorker) Work(ctx context.Context, job *river.Job[webhook.DeliverArgs]) error {
	again, done, err := w.Store.Deliver(ctx, job.Args.WebhookID)
	if err != nil || done {
		return err
	}
	return river.JobSnooze(again)
}

// WebhookReplayWorker replays one event to one webhook.
type WebhookReplayWorker struct {
	river.WorkerDefaults[webhook.ReplayArgs]
	Store *webhook.Store
}

// Work attempts the event once and records the attempt.
func (w *WebhookReplayWorker) Work(ctx context.Context, job *river.Job[webhook.ReplayArgs]) error {
	return w.Store.Replay(ctx, job.Args.WebhookID, job.Args.EventSeq)
}

// eventsRetentionEvery is how often events past their retention are deleted.
const eventsRetentionEvery = time.Hour

// EventsRetentionWorker deletes the events past their retention that every active webhook has
// finished with.
type EventsRetentionWorker struct {
	river.WorkerDefaults[webhook.RetentionArgs]
	Store *webhook.Store
	// Retention is how long events are kept; zero keeps them all.
	Retention time.Duration
}

// Work deletes what is past the retention and records how many.
func (w *EventsRetentionWorker) Work(ctx context.Context, job *river.Job[webhook.RetentionArgs]) error {
	n, err := w.Store.PruneEvents(ctx, w.Retention)
	if err != nil {
		return err
	}
	return river.RecordOutput(ctx, map[string]int64{"deleted": n})
}
