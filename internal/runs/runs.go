// Package runs is what every ledger of background runs shares (sync runs of a source,
// retention runs of a policy): the run statuses, one run per owner at a time, reading and paging
// an owner's runs, queueing the runs of owners whose schedule is due, and the jobs' insert
// options. It owns no table: each domain package keeps its runs table, its columns and what a
// run does, and describes the table with a Ledger. It must not know about any domain.
package runs

import (
	"context"
	"errors"
	"fmt"

	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// Status is where a run is.
type Status string

// The run statuses.
const (
	Queued    Status = "queued"
	Running   Status = "running"
	Succeeded Status = "succeeded"
	Failed    Status = "failed"
)

// Done says a run with this status has ended.
func (s Status) Done() bool { return s == Succeeded || s == Failed }

// Ledger describes a runs table. Its rows have an id (a UUIDv7, so id order is queue order)
// and a status, and at most one row per owner is queued or running (a unique partial index).
// The owners' table has schedule_seconds (null: manual only) and next_due_at.
type Ledger struct {
	// Runs is the runs table and Owner its column naming what a run belongs to.
	Runs, Owner string
	// Owners is the table of what runs belong to.
	Owners string
	// Columns is the column list a Scan function reads, in its order.
	Columns string
	// Noun names a run's owner in messages ("source", "retention policy").
	Noun string
}

// Scan reads one run from a row of Ledger.Columns.
type Scan[T any] func(pgx.Row) (T, error)

// Active returns the owner's queued or running run in tx (found false: none).
func Active[T any](ctx context.Context, tx pgx.Tx, l Ledger, owner uuid.UUID, scan Scan[T]) (run T, found bool, err error) {
	run, err = scan(tx.QueryRow(ctx, `SELECT `+l.Columns+` FROM `+l.Runs+` WHERE `+l.Owner+` = $1
		AND status IN ('queued', 'running')`, owner))
	if errors.Is(err, pgx.ErrNoRows) {
		return run, false, nil
	}
	if err != nil {
		return run, false, fmt.Errorf("runs: active run of %s %s: %w", l.Noun, owner, err)
	}
	return run, true, nil
}

// Get returns the owner's run id, or a not-found error.
func Get[T any](ctx context.Context, q db.Querier, l Ledger, owner, id uuid.UUID, scan Scan[T]) (T, error) {
	run, err := scan(q.QueryRow(ctx, `SELECT `+l.Columns+` FROM `+l.Runs+` WHERE id = $1 AND `+l.Owner+` = $2`, id, owner))
	if errors.Is(err, pgx.ErrNoRows) {
		return run, db.NotFound("run %s of %s %s not found", id, l.Noun, owner)
	}
	if err != nil {
		return run, fmt.Errorf("runs: get run %s: %w", id, err)
	}
	return run, nil
}

// List returns a page of the owner's runs, newest first, after the cursor (a run id), and the
// cursor of the next page (nil on the last). The caller checks the owner exists.
func List[T any](ctx context.Context, q db.Querier, l Ledger, owner uuid.UUID, limit int, before *uuid.UUID,
	scan Scan[T], id func(T) uuid.UUID) ([]T, *uuid.UUID, error) {
	rows, err := q.Query(ctx, `SELECT `+l.Columns+` FROM `+l.Runs+` WHERE `+l.Owner+` = $1
		AND ($2::uuid IS NULL OR id < $2) ORDER BY id DESC LIMIT $3`, owner, before, limit+1)
	if err != nil {
		return nil, nil, fmt.Errorf("runs: list runs of %s %s: %w", l.Noun, owner, err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
	if err != nil {
		return nil, nil, fmt.Errorf("runs: list runs of %s %s: %w", l.Noun, owner, err)
	}
	list, next := db.Page(list, limit, id)
	return list, next, nil
}

// EnqueueDue moves every owner whose schedule is due a schedule on and calls start for each in
// the same transaction; it returns how many runs start says it queued. Owners locked by another
// scheduler are skipped (they are that one's), so schedulers on several workers never queue a
// run twice.
func EnqueueDue(ctx context.Context, d *db.DB, l Ledger, start func(ctx context.Context, tx pgx.Tx, owner uuid.UUID) (bool, error)) (int, error) {
	n := 0
	err := d.InTx(ctx, func(tx pgx.Tx) error {
		n = 0
		rows, err := tx.Query(ctx, `UPDATE `+l.Owners+` SET next_due_at = now() + schedule_seconds * interval '1 second'
			WHERE id IN (SELECT id FROM `+l.Owners+` WHERE next_due_at <= now() AND schedule_seconds IS NOT NULL
				ORDER BY next_due_at LIMIT 1000 FOR UPDATE SKIP LOCKED)
			RETURNING id`)
		if err != nil {
			return fmt.Errorf("runs: due %ss: %w", l.Noun, err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			return fmt.Errorf("runs: due %ss: %w", l.Noun, err)
		}
		for _, id := range ids {
			started, err := start(ctx, tx, id)
			if err != nil {
				return err
			}
			if started {
				n++
			}
		}
		return nil
	})
	return n, err
}

// RunInsertOpts are the insert options of a job that works one run: on the bulk queue, unique
// (by its args, which must tag only the owner as unique) while it waits or runs, so an owner
// has one such job at a time; a retry resumes the run from its last committed step.
func RunInsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: db.QueueBulk, MaxAttempts: 5,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: db.ActiveJobStates}}
}

// DueInsertOpts are the insert options of the periodic job that queues due runs: unique while
// it waits or runs.
func DueInsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: db.ActiveJobStates}}
}
