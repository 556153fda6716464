package webhook

import (
	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/riverqueue/river"
)

// Queue is the River queue of webhook deliveries, apart so that a slow receiver never holds up
// contacts' jobs.
const Queue = "webhooks"

// DeliverArgs runs one webhook's ordered stream (Store.Deliver). It is unique per webhook
// while it waits, runs or waits to retry, so a webhook has one stream at a time.
type DeliverArgs struct {
	WebhookID uuid.UUID `json:"webhook_id"`
}

// Kind is the job kind.
func (DeliverArgs) Kind() string { return "webhook_deliver" }

// InsertOpts makes the job unique per webhook on the webhooks queue.
func (DeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: db.ActiveJobStates}}
}

// ReplayArgs attempts one event to one webhook once (Store.Replay), asked for through Retry.
type ReplayArgs struct {
	WebhookID uuid.UUID `json:"webhook_id"`
	EventSeq  int64     `json:"event_seq"`
}

// Kind is the job kind.
func (ReplayArgs) Kind() string { return "webhook_replay" }

// InsertOpts puts the job on the webhooks queue; a failed replay is recorded, not retried.
func (ReplayArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: 3}
}

// RetentionArgs asks for the events past their retention to be deleted (a periodic job).
type RetentionArgs struct{}

// Kind is the job's stable kind name.
func (RetentionArgs) Kind() string { return "events_retention" }

// InsertOpts keeps one retention job pending at a time, on the bulk queue.
func (RetentionArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: db.QueueBulk, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: db.ActiveJobStates}}
}
