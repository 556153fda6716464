package consent

import (
	"github.com/contactd/contactd/internal/db"
	"github.com/riverqueue/river"
)

// RefreshStatesArgs asks for the consent states not known to be computed (RefreshStates). A
// daily periodic job queues it, also when the worker starts (after the migration that added
// the states, it fills them in); package worker works it.
type RefreshStatesArgs struct{}

// Kind is the job's stable kind name.
func (RefreshStatesArgs) Kind() string { return "consent_states" }

// InsertOpts makes the job unique while it waits or runs: one pass covers every state not known
// before it starts.
func (RefreshStatesArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByState: db.ActiveJobStates}}
}
