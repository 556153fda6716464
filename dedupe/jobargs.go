package dedupe

import (
	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/riverqueue/river"
)

// CheckArgs asks for one contact to be checked for duplicates: merged when the matcher is
// sure, proposed for review when it is not. The normalize job enqueues it with the contact's
// new keys, a merge for its survivor, an undo for each contact, and a batch check for what it
// left to checks of their own.
type CheckArgs struct {
	ContactID uuid.UUID `json:"contact_id" river:"unique"`
}

// Kind is the job's stable kind name.
func (CheckArgs) Kind() string { return "dedupe_contact" }

// InsertOpts makes the job unique per contact while it waits or runs (River requires running
// among the unique states), on its own queue. A check that merges its own contact as the
// survivor therefore gets no second check of the merged person.
func (CheckArgs) InsertOpts() river.InsertOpts {
	o := contact.NormalizeArgs{}.InsertOpts()
	o.MaxAttempts = 5
	o.Queue = db.QueueDedupe
	return o
}

// ScanArgs asks for a full duplicate scan recorded as run RunID (a zero RunID, as the
// periodic scan enqueues it, makes the worker record a run of its own).
type ScanArgs struct {
	RunID uuid.UUID `json:"run_id"`
}

// InsertOpts puts scans on the bulk queue, one at a time: unique by kind while one waits or
// runs (a second request is refused, a periodic one skipped). RunScan's lock keeps a scan run
// outside the workers (contactd dedupe --wait) from overlapping one too.
func (ScanArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: db.QueueBulk, MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByState: db.ActiveJobStates}}
}

// Kind is the job's stable kind name.
func (ScanArgs) Kind() string { return "dedupe_scan" }

// BatchArgs asks for the contacts an import batch wrote to be keyed and checked for
// duplicates: one job per batch. Created contacts are named by their id range (ids are
// time-ordered, so a batch's new contacts are one range), updated ones by id.
type BatchArgs struct {
	From    uuid.UUID   `json:"from"`
	To      uuid.UUID   `json:"to"`
	Updated []uuid.UUID `json:"updated,omitempty"`
}

// InsertOpts puts batch checks on the bulk queue.
func (BatchArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: db.QueueBulk, MaxAttempts: 5}
}

// Kind is the job's stable kind name.
func (BatchArgs) Kind() string { return "dedupe_batch" }

// TrainArgs asks for the matcher to be retrained on the live contacts.
type TrainArgs struct{}

// InsertOpts puts training on the bulk queue, one at a time: unique by kind while one waits or
// runs.
func (TrainArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: db.QueueBulk, MaxAttempts: 2, UniqueOpts: river.UniqueOpts{ByState: db.ActiveJobStates}}
}

// Kind is the job's stable kind name.
func (TrainArgs) Kind() string { return "train_matcher" }
