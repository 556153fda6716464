package consent

import (
	"github.com/contactd/contactd/internal/db"
	"github.com/riverqueue/river"
)

// RefreshStatesArgs asks for every consent state to be checked against its events, and those
// not known or stale written (RefreshStates). A daily periodic job queues it, also when the
// worker starts (after the migration that added the states, it fills them in; after a rolling
// upgrade, it corrects what older processes left); package worker works it, on the bulk queue.
type RefreshStatesArgs struct{}

// Kind is the job's stable kind name.
func (RefreshStatesArgs) Kind() string { return "consent_states" }

// InsertOpts makes the job unique while it waits or runs: one pass covers every state not known
// before it starts.
func (RefreshStatesArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: db.QueueBulk, UniqueOpts: river.UniqueOpts{ByState: db.ActiveJobStates}}
}
