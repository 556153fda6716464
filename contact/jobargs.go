package contact

import (
	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/riverqueue/river"
)

// NormalizeArgs asks for a contact's email and phone to be (re)normalized. The store enqueues it
// in the transaction of every change that sets or changes them; package worker works it.
type NormalizeArgs struct {
	ContactID uuid.UUID `json:"contact_id" river:"unique"`
}

// Kind is the job's stable kind name.
func (NormalizeArgs) Kind() string { return "normalize_contact" }

// InsertOpts makes the job unique per contact while it waits or runs. Completed jobs are left
// out of the unique states so that a change committed after a normalization gets its own job;
// the worker completes its job in the transaction that writes the normalized forms, so a change
// that races a running job is either seen by that job or enqueues a new one.
func (NormalizeArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		MaxAttempts: 10,
		UniqueOpts: river.UniqueOpts{
			ByArgs:  true,
			ByState: db.ActiveJobStates,
		},
	}
}

// NameCountsArgs asks for search's name counts to be refreshed (RefreshNameCounts). A periodic
// job queues it, and so does the end of a large import; package worker works it.
type NameCountsArgs struct{}

// Kind is the job's stable kind name.
func (NameCountsArgs) Kind() string { return "search_name_counts" }

// InsertOpts makes the job unique while it waits or runs: one refresh covers every change
// before it starts.
func (NameCountsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByState: db.ActiveJobStates}}
}
