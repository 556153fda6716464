package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/contactd/contactd/event"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/internal/runs"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// RunError is one record (or page) a run could not sync.
type RunError struct {
	Ref     string `json:"ref"`
	Message string `json:"message"`
}

// MaxRunErrors bounds the errors a run keeps; further ones are only counted in the last entry.
const MaxRunErrors = 100

// Conflict is one conflict decision: a field changed on both sides since the last sync, and
// the source's policy kept one side's value.
type Conflict struct {
	Ref       string    `json:"ref"` // the remote id
	ContactID uuid.UUID `json:"contactId"`
	Field     string    `json:"field"`
	Local     *string   `json:"local"`
	Remote    *string   `json:"remote"`
	Kept      string    `json:"kept"` // "local" or "remote"
}

// Stats are what a page (or a whole run) did.
type Stats struct {
	Pulled, Created, Updated, Linked, Deleted, Pushed, Conflicts, Requests int64
	Errors                                                                 []RunError
	// ConflictLog are the conflict decisions (the first MaxRunErrors are kept).
	ConflictLog []Conflict
}

// Add adds o to s.
func (s *Stats) Add(o Stats) {
	s.Pulled += o.Pulled
	s.Created += o.Created
	s.Updated += o.Updated
	s.Linked += o.Linked
	s.Deleted += o.Deleted
	s.Pushed += o.Pushed
	s.Conflicts += o.Conflicts
	s.Requests += o.Requests
	s.Errors = append(s.Errors, o.Errors...)
	s.ConflictLog = append(s.ConflictLog, o.ConflictLog...)
}

// Run is one sync of a source.
type Run struct {
	ID       uuid.UUID
	SourceID uuid.UUID
	Status   runs.Status
	Full     bool
	// AllowEmpty lets a full sync find a source that had records empty (and archive them).
	AllowEmpty bool
	Stats      Stats
	QueuedAt   time.Time
	StartedAt  *time.Time
	FinishedAt *time.Time
}

const runColumns = `id, source_id, status, full_sync, allow_empty, pulled, created, updated, linked, deleted, pushed,
	conflicts, requests, errors, conflict_log, queued_at, started_at, finished_at`

func scanRun(row pgx.Row) (*Run, error) {
	var r Run
	err := row.Scan(&r.ID, &r.SourceID, &r.Status, &r.Full, &r.AllowEmpty, &r.Stats.Pulled, &r.Stats.Created, &r.Stats.Updated,
		&r.Stats.Linked, &r.Stats.Deleted, &r.Stats.Pushed, &r.Stats.Conflicts, &r.Stats.Requests, &r.Stats.Errors,
		&r.Stats.ConflictLog, &r.QueuedAt, &r.StartedAt, &r.FinishedAt)
	return &r, err
}

// ledger is the sync runs table, one run per source at a time.
var ledger = runs.Ledger{Runs: "sync_runs", Owner: "source_id", Owners: "sync_sources", Columns: runColumns, Noun: "source"}

func runID(r *Run) uuid.UUID { return r.ID }

// StartRun queues a run of the source and its job in one transaction. When the source has a
// run queued or running already, that run is returned (started false) and nothing is queued:
// one run per source at a time.
func (s *Store) StartRun(ctx context.Context, sourceID uuid.UUID, full bool) (run *Run, started bool, err error) {
	return s.StartRunWith(ctx, sourceID, RunOptions{Full: full})
}

// RunOptions are how a run is asked for.
type RunOptions struct {
	// Full forces a full resync (from no checkpoint).
	Full bool
	// AllowEmpty confirms that a full sync may find a source that had records empty; without
	// it such a run fails instead of archiving every linked contact.
	AllowEmpty bool
}

// StartRunWith is StartRun with options.
func (s *Store) StartRunWith(ctx context.Context, sourceID uuid.UUID, o RunOptions) (run *Run, started bool, err error) {
	err = s.db.RetryTx(ctx, func(tx pgx.Tx) error {
		run, started, err = s.startRunTx(ctx, tx, sourceID, o)
		return err
	})
	return run, started, err
}

// StartRunTx is StartRun in the caller's transaction (the scheduler's).
func (s *Store) StartRunTx(ctx context.Context, tx pgx.Tx, sourceID uuid.UUID, full bool) (*Run, bool, error) {
	return s.startRunTx(ctx, tx, sourceID, RunOptions{Full: full})
}

func (s *Store) startRunTx(ctx context.Context, tx pgx.Tx, sourceID uuid.UUID, o RunOptions) (*Run, bool, error) {
	// Lock the source: concurrent starts serialize here and the second sees the first's run.
	var dir Direction
	err := tx.QueryRow(ctx, `SELECT direction FROM sync_sources WHERE id = $1 FOR UPDATE`, sourceID).Scan(&dir)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, db.NotFound("source %s not found", sourceID)
	}
	if err != nil {
		return nil, false, fmt.Errorf("source: lock %s: %w", sourceID, err)
	}
	if active, found, err := runs.Active(ctx, tx, ledger, sourceID, scanRun); err != nil || found {
		return active, false, err
	}
	run, err := scanRun(tx.QueryRow(ctx, `INSERT INTO sync_runs (id, source_id, status, full_sync, allow_empty)
		VALUES ($1, $2, 'queued', $3, $4) RETURNING `+runColumns, uuid.Must(uuid.NewV7()), sourceID, o.Full, o.AllowEmpty))
	if err != nil {
		return nil, false, fmt.Errorf("source: queue run of %s: %w", sourceID, err)
	}
	if _, err := s.db.Jobs.InsertTx(ctx, tx, RunArgs{SourceID: sourceID, RunID: run.ID}, nil); err != nil {
		return nil, false, fmt.Errorf("source: enqueue run of %s: %w", sourceID, err)
	}
	return run, true, nil
}

// EnqueueDue queues a run of every source whose schedule is due and moves each one's next due
// time a schedule on; it returns how many runs it queued.
func (s *Store) EnqueueDue(ctx context.Context) (int, error) {
	return runs.EnqueueDue(ctx, s.db, ledger, func(ctx context.Context, tx pgx.Tx, id uuid.UUID) (bool, error) {
		_, started, err := s.StartRunTx(ctx, tx, id, false)
		return started, err
	})
}

// GetRun returns a run of a source.
func (s *Store) GetRun(ctx context.Context, sourceID, runID uuid.UUID) (*Run, error) {
	return runs.Get(ctx, s.db.Pool, ledger, sourceID, runID, scanRun)
}

// ListRuns returns a page of a source's runs, newest first, after the cursor (a run id), and the
// cursor of the next page (nil on the last).
func (s *Store) ListRuns(ctx context.Context, sourceID uuid.UUID, limit int, before *uuid.UUID) ([]*Run, *uuid.UUID, error) {
	if _, err := s.Get(ctx, sourceID); err != nil {
		return nil, nil, err
	}
	return runs.List(ctx, s.db.Pool, ledger, sourceID, limit, before, scanRun, runID)
}

// BeginRun marks a run running and returns it with its source and the checkpoint to go on
// from. The first attempt of a full run forgets the source's checkpoint; a later attempt (the
// job retried after a crash) goes on from the last committed page. A run that is over is
// returned as it is (the caller does nothing).
func (s *Store) BeginRun(ctx context.Context, runID uuid.UUID) (*Run, *Source, json.RawMessage, error) {
	var run *Run
	var src *Source
	var cp json.RawMessage
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		run, err = scanRun(tx.QueryRow(ctx, `SELECT `+runColumns+` FROM sync_runs WHERE id = $1 FOR UPDATE`, runID))
		if errors.Is(err, pgx.ErrNoRows) {
			return db.NotFound("run %s not found", runID)
		}
		if err != nil {
			return fmt.Errorf("source: lock run %s: %w", runID, err)
		}
		if run.Status != runs.Queued && run.Status != runs.Running {
			return nil
		}
		if run.Status == runs.Queued && run.Full {
			if _, err := tx.Exec(ctx, `UPDATE sync_sources SET checkpoint = NULL WHERE id = $1`, run.SourceID); err != nil {
				return fmt.Errorf("source: reset checkpoint: %w", err)
			}
		}
		src, err = scanSource(tx.QueryRow(ctx, `SELECT `+sourceColumns+` FROM sync_sources WHERE id = $1`, run.SourceID))
		if err != nil {
			return fmt.Errorf("source: read source of run %s: %w", runID, err)
		}
		if err := tx.QueryRow(ctx, `SELECT checkpoint FROM sync_sources WHERE id = $1`, run.SourceID).Scan(&cp); err != nil {
			return fmt.Errorf("source: read checkpoint: %w", err)
		}
		return tx.QueryRow(ctx, `UPDATE sync_runs SET status = 'running', started_at = coalesce(started_at, now())
			WHERE id = $1 RETURNING status, started_at`, runID).Scan(&run.Status, &run.StartedAt)
	})
	if err != nil {
		return nil, nil, nil, err
	}
	return run, src, cp, nil
}

// CommitPageTx records, in the transaction that wrote a page's records, the checkpoint after
// the page and what the page did: a crash after it resumes at the next page.
func (s *Store) CommitPageTx(ctx context.Context, tx pgx.Tx, run *Run, cp json.RawMessage, st Stats) error {
	if _, err := tx.Exec(ctx, `UPDATE sync_sources SET checkpoint = $2 WHERE id = $1`, run.SourceID, cp); err != nil {
		return fmt.Errorf("source: write checkpoint: %w", err)
	}
	return s.AddStatsTx(ctx, tx, run.ID, st)
}

// AddStatsTx adds what a step of a run did (its sweep, its push) to the run.
func (s *Store) AddStatsTx(ctx context.Context, tx pgx.Tx, runID uuid.UUID, st Stats) error {
	errs := st.Errors
	if errs == nil {
		errs = []RunError{}
	}
	conflicts := st.ConflictLog
	if conflicts == nil {
		conflicts = []Conflict{}
	}
	_, err := tx.Exec(ctx, `UPDATE sync_runs SET pulled = pulled + $2, created = created + $3, updated = updated + $4,
			linked = linked + $5, deleted = deleted + $6, pushed = pushed + $7, conflicts = conflicts + $8,
			requests = requests + $9,
			errors = CASE WHEN jsonb_array_length(errors) >= $11 THEN errors
				ELSE (SELECT coalesce(jsonb_agg(e), '[]') FROM (SELECT e FROM jsonb_array_elements(errors || $10::jsonb) e LIMIT $11) x) END,
			conflict_log = CASE WHEN jsonb_array_length(conflict_log) >= $11 THEN conflict_log
				ELSE (SELECT coalesce(jsonb_agg(e), '[]') FROM (SELECT e FROM jsonb_array_elements(conflict_log || $12::jsonb) e LIMIT $11) x) END
		WHERE id = $1`,
		runID, st.Pulled, st.Created, st.Updated, st.Linked, st.Deleted, st.Pushed, st.Conflicts, st.Requests, errs, MaxRunErrors,
		conflicts)
	if err != nil {
		return fmt.Errorf("source: record run progress: %w", err)
	}
	return nil
}

// FinishRun ends a run: succeeded when failure is nil, failed with the failure as its last
// error otherwise. extra are counts not recorded with a page (requests of a failed page).
func (s *Store) FinishRun(ctx context.Context, runID uuid.UUID, extra Stats, failure error) (*Run, error) {
	status := runs.Succeeded
	if failure != nil {
		status = runs.Failed
		extra.Errors = append(extra.Errors, RunError{Ref: "run", Message: failure.Error()})
	}
	var run *Run
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		run, err = s.finishTx(ctx, tx, runID, extra, status)
		return err
	})
	return run, err
}

func (s *Store) finishTx(ctx context.Context, tx pgx.Tx, runID uuid.UUID, extra Stats, status runs.Status) (*Run, error) {
	if err := s.AddStatsTx(ctx, tx, runID, extra); err != nil {
		return nil, err
	}
	run, err := scanRun(tx.QueryRow(ctx, `UPDATE sync_runs SET status = $2, finished_at = now() WHERE id = $1 RETURNING `+runColumns, runID, status))
	if err != nil {
		return nil, fmt.Errorf("source: finish run %s: %w", runID, err)
	}
	return run, emitFinished(ctx, tx, run)
}

// PushRequests is how many pushes merges and undos have asked of the source (RequestPushTx).
func (s *Store) PushRequests(ctx context.Context, sourceID uuid.UUID) (int64, error) {
	var n int64
	if err := s.db.Pool.QueryRow(ctx, `SELECT push_requests FROM sync_sources WHERE id = $1`, sourceID).Scan(&n); err != nil {
		return 0, fmt.Errorf("source: push requests of %s: %w", sourceID, err)
	}
	return n, nil
}

// FinishPushRun ends a run that pushed as succeeded, unless a merge or an undo asked the source
// for a push since the push began (its PushRequests are no longer seen): then the run stays
// running and again is true, and the caller pushes once more. The check and the end hold the
// source's row, as RequestPushTx does, so a request either makes this run push again or finds
// it over and queues the next run.
func (s *Store) FinishPushRun(ctx context.Context, runID, sourceID uuid.UUID, seen int64) (run *Run, again bool, err error) {
	err = s.db.InTx(ctx, func(tx pgx.Tx) error {
		var now int64
		if err := tx.QueryRow(ctx, `SELECT push_requests FROM sync_sources WHERE id = $1 FOR UPDATE`, sourceID).Scan(&now); err != nil {
			return fmt.Errorf("source: push requests of %s: %w", sourceID, err)
		}
		if again = now != seen; again {
			return nil
		}
		run, err = s.finishTx(ctx, tx, runID, Stats{}, runs.Succeeded)
		return err
	})
	return run, again, err
}

// emitFinished writes the sync.finished event of a run that has just ended, in the transaction
// that ends it. It carries the run's counts; the contacts it changed are contact events of
// their own.
func emitFinished(ctx context.Context, tx pgx.Tx, run *Run) error {
	errs := len(run.Stats.Errors)
	return event.Emit(ctx, tx, event.SyncFinished, nil, map[string]any{
		"runId": run.ID, "sourceId": run.SourceID, "status": run.Status, "full": run.Full,
		"pulled": run.Stats.Pulled, "created": run.Stats.Created, "updated": run.Stats.Updated,
		"linked": run.Stats.Linked, "deleted": run.Stats.Deleted, "pushed": run.Stats.Pushed,
		"conflicts": run.Stats.Conflicts, "errors": errs,
	})
}
