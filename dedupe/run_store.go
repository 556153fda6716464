package dedupe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// EnqueueChecks enqueues a duplicate check (dedupe_contact) of each contact, outside any
// transaction: for work a bulk check left to per-contact checks. A contact with a check waiting
// already gets no second one.
func (s *Store) EnqueueChecks(ctx context.Context, ids []uuid.UUID) error {
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: CheckArgs{ContactID: id}}
	}
	if _, err := s.db.Jobs.InsertMany(ctx, params); err != nil {
		return fmt.Errorf("dedupe: enqueue duplicate checks: %w", err)
	}
	return nil
}

// SaveModel stores a trained matcher model as the newest version.
func (s *Store) SaveModel(ctx context.Context, model json.RawMessage, stats any) (int, error) {
	var version int
	err := s.db.Pool.QueryRow(ctx, `INSERT INTO matcher_models (model, stats, actor) VALUES ($1, $2, $3) RETURNING version`,
		model, stats, contact.ActorFrom(ctx)).Scan(&version)
	if err != nil {
		return 0, fmt.Errorf("dedupe: save model: %w", err)
	}
	return version, nil
}

// LatestModel returns the newest stored model and its version, or version 0 when none exists.
func (s *Store) LatestModel(ctx context.Context) (int, json.RawMessage, error) {
	var version int
	var model json.RawMessage
	err := s.db.Pool.QueryRow(ctx, `SELECT version, model FROM matcher_models ORDER BY version DESC LIMIT 1`).Scan(&version, &model)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, fmt.Errorf("dedupe: latest model: %w", err)
	}
	return version, model, nil
}

// LatestModelVersion returns the newest model's version, 0 when none exists.
func (s *Store) LatestModelVersion(ctx context.Context) (int, error) {
	var v int
	err := s.db.Pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM matcher_models`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("dedupe: latest model version: %w", err)
	}
	return v, nil
}

// Run is one full duplicate scan.
type Run struct {
	ID           uuid.UUID
	Status       string
	ModelVersion *int
	Stats        map[string]any
	Error        *string
	Actor        string
	CreatedAt    time.Time
	StartedAt    *time.Time
	FinishedAt   *time.Time
}

const runColumns = `id, status, model_version, stats, error, actor, created_at, started_at, finished_at`

func scanRun(row pgx.Row) (*Run, error) {
	var r Run
	err := row.Scan(&r.ID, &r.Status, &r.ModelVersion, &r.Stats, &r.Error, &r.Actor, &r.CreatedAt, &r.StartedAt, &r.FinishedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, db.NotFound("dedupe run not found")
	}
	if err != nil {
		return nil, fmt.Errorf("dedupe: dedupe run: %w", err)
	}
	return &r, nil
}

// CreateRun records a full scan and enqueues its job in the same transaction. Scans run one at
// a time: while one is queued or running it fails with KindConflict naming that run.
func (s *Store) CreateRun(ctx context.Context) (*Run, error) {
	id := uuid.Must(uuid.NewV7())
	var run *Run
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		run, err = scanRun(tx.QueryRow(ctx, `INSERT INTO dedupe_runs (id, actor) VALUES ($1, $2) RETURNING `+runColumns, id, contact.ActorFrom(ctx)))
		if err != nil {
			return err
		}
		res, err := s.db.Jobs.InsertTx(ctx, tx, ScanArgs{RunID: id}, nil)
		if err != nil {
			return fmt.Errorf("dedupe: enqueue scan: %w", err)
		}
		if res.UniqueSkippedAsDuplicate {
			var other ScanArgs
			if err := json.Unmarshal(res.Job.EncodedArgs, &other); err != nil {
				// Our own job's args: unreadable, they are a bug, not a conflict to report.
				return fmt.Errorf("dedupe: the queued scan's args: %w", err)
			}
			return db.Conflict("a duplicate scan (run %s) is already queued or running; scans run one at a time", other.RunID)
		}
		return nil
	})
	return run, err
}

// CreateRunRecord records a run without enqueuing it (the periodic scan's job records
// its own run).
func (s *Store) CreateRunRecord(ctx context.Context) (*Run, error) {
	return scanRun(s.db.Pool.QueryRow(ctx, `INSERT INTO dedupe_runs (id, actor) VALUES ($1, $2) RETURNING `+runColumns,
		uuid.Must(uuid.NewV7()), contact.ActorFrom(ctx)))
}

// UpdateRun records a run's status, model and statistics (finished when status is
// succeeded or failed).
func (s *Store) UpdateRun(ctx context.Context, id uuid.UUID, status string, modelVersion *int, stats any, runErr string) (*Run, error) {
	return scanRun(s.db.Pool.QueryRow(ctx, `UPDATE dedupe_runs SET status = $2, model_version = coalesce($3, model_version),
		stats = $4, error = $5, started_at = coalesce(started_at, now()),
		finished_at = CASE WHEN $2 IN ('succeeded', 'failed') THEN now() END
		WHERE id = $1 RETURNING `+runColumns, id, status, modelVersion, stats, contact.Nullable(runErr)))
}

// GetRun returns a run.
func (s *Store) GetRun(ctx context.Context, id uuid.UUID) (*Run, error) {
	return scanRun(s.db.Pool.QueryRow(ctx, `SELECT `+runColumns+` FROM dedupe_runs WHERE id = $1`, id))
}

// ListRuns returns runs newest first.
func (s *Store) ListRuns(ctx context.Context, before *uuid.UUID, limit int) ([]*Run, *uuid.UUID, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT `+runColumns+` FROM dedupe_runs WHERE $1::uuid IS NULL OR id < $1 ORDER BY id DESC LIMIT $2`, before, limit+1)
	if err != nil {
		return nil, nil, fmt.Errorf("dedupe: list dedupe runs: %w", err)
	}
	runs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Run, error) { return scanRun(r) })
	if err != nil {
		return nil, nil, err
	}
	runs, next := db.Page(runs, limit, func(r *Run) uuid.UUID { return r.ID })
	return runs, next, nil
}
