package source

import (
	"github.com/contactd/contactd/internal/runs"
	"github.com/google/uuid"
	"github.com/riverqueue/river"
)

// RunArgs asks for a source's run to be worked (or resumed from the source's checkpoint).
type RunArgs struct {
	SourceID uuid.UUID `json:"source_id" river:"unique"`
	RunID    uuid.UUID `json:"run_id"`
}

// Kind is the job's stable kind name.
func (RunArgs) Kind() string { return "sync_run" }

// InsertOpts makes the job unique per source while it waits or runs (one run per source at a
// time); a retry resumes the run from the checkpoint of its last committed page.
func (RunArgs) InsertOpts() river.InsertOpts { return runs.RunInsertOpts() }

// DueArgs asks for the runs of every source whose schedule is due to be enqueued. One periodic
// job (fixed at client start) serves every source, including ones created since.
type DueArgs struct{}

// Kind is the job's stable kind name.
func (DueArgs) Kind() string { return "sync_due" }

// InsertOpts makes the job unique while it waits or runs.
func (DueArgs) InsertOpts() river.InsertOpts { return runs.DueInsertOpts() }
