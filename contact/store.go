package contact

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// Store persists contacts, users, accounts, relationships, API keys and the audit log in
// PostgreSQL. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	// jobs is an insert-only River client: a change and the jobs it causes commit together.
	jobs *river.Client[pgx.Tx]
}

// NewStore returns a Store over pool. The pool's database must be migrated.
func NewStore(pool *pgxpool.Pool) (*Store, error) {
	// River debounces its insert notifications per queue by the inserting client's fetch
	// cooldown; a short one lets a job enqueued right after another wake the workers at once.
	jobs, err := river.NewClient(riverpgxv5.New(pool), &river.Config{FetchCooldown: 5 * time.Millisecond})
	if err != nil {
		return nil, fmt.Errorf("contact: river insert client: %w", err)
	}
	return &Store{pool: pool, jobs: jobs}, nil
}

// Pool returns the store's connection pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

type actorKey struct{}

// WithActor returns a context whose changes are audited as made by actor (for example
// "apikey:<id>" or "job:normalize_contact").
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFrom returns the actor WithActor stored in ctx, or "system".
func ActorFrom(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	return "system"
}

// inTx runs fn in a transaction that commits when fn returns nil and rolls back otherwise.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("contact: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("contact: commit: %w", err)
	}
	return nil
}

// pgCode returns the SQLSTATE of a PostgreSQL error, or "".
func pgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

const (
	codeUniqueViolation = "23505"
	codeFKViolation     = "23503"
)
