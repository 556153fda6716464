package db

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
)

// DB is the database every domain store works on: the connection pool and an insert-only River
// client, so that a change and the jobs it causes commit together (InsertTx). It is safe for
// concurrent use; one DB is shared by every store of a process.
type DB struct {
	Pool *pgxpool.Pool
	// Jobs inserts jobs (it works none): Jobs.InsertTx in the transaction of the change.
	Jobs *river.Client[pgx.Tx]
}

// New returns a DB over pool. The pool's database must be migrated.
func New(pool *pgxpool.Pool) (*DB, error) {
	// River debounces its insert notifications per queue by the inserting client's fetch
	// cooldown; a short one lets a job enqueued right after another wake the workers at once.
	jobs, err := river.NewClient(riverpgxv5.New(pool), &river.Config{FetchCooldown: 5 * time.Millisecond})
	if err != nil {
		return nil, fmt.Errorf("db: river insert client: %w", err)
	}
	return &DB{Pool: pool, Jobs: jobs}, nil
}

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error { return d.Pool.Ping(ctx) }

type beforeCommitKey struct{}

// WithBeforeCommit returns a context under which every InTx runs hook in its transaction just
// before it commits (after fn succeeded), so that what hook writes commits with the work or
// not at all. The API uses it to record, with a request's work, that its Idempotency-Key's work
// is done.
func WithBeforeCommit(ctx context.Context, hook func(context.Context, pgx.Tx) error) context.Context {
	return context.WithValue(ctx, beforeCommitKey{}, hook)
}

// InTx runs fn in a transaction that commits when fn returns nil and rolls back otherwise
// (running the context's WithBeforeCommit hook first).
func (d *DB) InTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := d.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("db: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	if hook, ok := ctx.Value(beforeCommitKey{}).(func(context.Context, pgx.Tx) error); ok {
		if err := hook(ctx, tx); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("db: commit: %w", err)
	}
	return nil
}

// WriteRow runs one writing statement that returns a row (an INSERT or UPDATE ... RETURNING) in
// a transaction of its own through InTx, so that the context's WithBeforeCommit hook (an
// Idempotency-Key's mark that its work is done) commits with it; scan reads the row before the
// transaction commits. A store's single-statement writes on a request's path use it rather than
// the pool.
func (d *DB) WriteRow(ctx context.Context, scan func(pgx.Row) error, sql string, args ...any) error {
	return d.InTx(ctx, func(tx pgx.Tx) error { return scan(tx.QueryRow(ctx, sql, args...)) })
}

// RetryTx runs fn in a transaction, again (a few times, with a short backoff) when PostgreSQL
// aborts it for a serialization failure or a deadlock, so that callers never see those. fn must
// be safe to run more than once.
func (d *DB) RetryTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := d.InTx(ctx, fn)
		if code := Code(err); attempt < 5 && (code == CodeSerializationFailure || code == CodeDeadlockDetected) {
			select {
			case <-ctx.Done():
				return err
			case <-time.After(time.Duration(attempt*attempt) * 10 * time.Millisecond):
			}
			continue
		}
		return err
	}
}

// Querier is what a read needs: a pool or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// The queues besides River's default (per-contact normalize jobs).
const (
	// QueueBulk is the queue of long bulk jobs (imports, their batch checks, scans, training),
	// kept apart so they never hold up per-contact jobs.
	QueueBulk = "bulk"
	// QueueDedupe is the queue of per-contact duplicate checks. It is apart from the default
	// queue because River sends at most one insert notification per queue per fetch cooldown: a
	// check enqueued by a normalize job a few milliseconds after that job was itself enqueued
	// would otherwise go unannounced and wait for the next poll.
	QueueDedupe = "dedupe"
)

// ActiveJobStates are the states of a job that waits or runs: a job unique by these is enqueued
// again once the earlier one has finished.
var ActiveJobStates = []rivertype.JobState{
	rivertype.JobStateAvailable,
	rivertype.JobStatePending,
	rivertype.JobStateRunning,
	rivertype.JobStateRetryable,
	rivertype.JobStateScheduled,
}
