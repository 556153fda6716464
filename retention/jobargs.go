package retention

import (
	"github.com/contactd/contactd/internal/runs"
	"github.com/google/uuid"
	"github.com/riverqueue/river"
)

// RunArgs asks for a policy's run to be worked (or resumed from its cursor).
type RunArgs struct {
	PolicyID uuid.UUID `json:"policy_id" river:"unique"`
	RunID    uuid.UUID `json:"run_id"`
}

// Kind is the job's stable kind name.
func (RunArgs) Kind() string { return "retention_run" }

// InsertOpts makes the job unique per policy while it waits or runs (one run per policy at a
// time, with the unique index on retention_runs); a retry resumes the run from its cursor.
func (RunArgs) InsertOpts() river.InsertOpts { return runs.RunInsertOpts() }

// DueArgs asks for the runs of every policy whose schedule is due to be queued. One periodic
// job (fixed at client start) serves every policy, including ones created since.
type DueArgs struct{}

// Kind is the job's stable kind name.
func (DueArgs) Kind() string { return "retention_due" }

// InsertOpts makes the job unique while it waits or runs.
func (DueArgs) InsertOpts() river.InsertOpts { return runs.DueInsertOpts() }
