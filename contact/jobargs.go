package contact

import (
	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
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
			ByArgs: true,
			ByState: []rivertype.JobState{
				rivertype.JobStateAvailable,
				rivertype.JobStatePending,
				rivertype.JobStateRunning,
				rivertype.JobStateRetryable,
				rivertype.JobStateScheduled,
			},
		},
	}
}

// ImportArgs asks for an uploaded import to be run (or resumed from its committed progress).
type ImportArgs struct {
	ImportID uuid.UUID `json:"import_id" river:"unique"`
}

// Kind is the job's stable kind name.
func (ImportArgs) Kind() string { return "import_file" }

// InsertOpts makes the job unique per import while it waits or runs; retries resume it.
func (ImportArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueBulk, MaxAttempts: 5, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// QueueBulk is the queue of long bulk jobs (imports), kept apart so they never hold up
// per-contact jobs.
const QueueBulk = "bulk"

// QueueDedupe is the queue of per-contact duplicate checks. It is apart from the default queue
// (normalize jobs) because River sends at most one insert notification per queue per fetch
// cooldown: a check enqueued by a normalize job a few milliseconds after that job was itself
// enqueued would otherwise go unannounced and wait for the next poll.
const QueueDedupe = "dedupe"

// DedupeArgs asks for one contact to be checked for duplicates: merged when the matcher is
// sure, proposed for review when it is not. The normalize job enqueues it with the contact's
// new keys, a merge for its survivor, an undo for each contact, and a batch check for what it
// left to checks of their own.
type DedupeArgs struct {
	ContactID uuid.UUID `json:"contact_id" river:"unique"`
}

// Kind is the job's stable kind name.
func (DedupeArgs) Kind() string { return "dedupe_contact" }

// InsertOpts makes the job unique per contact while it waits or runs (River requires running
// among the unique states), on its own queue. A check that merges its own contact as the
// survivor therefore gets no second check of the merged person.
func (DedupeArgs) InsertOpts() river.InsertOpts {
	o := NormalizeArgs{}.InsertOpts()
	o.MaxAttempts = 5
	o.Queue = QueueDedupe
	return o
}
