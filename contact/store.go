package contact

import (
	"context"

	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Store persists contacts, users, accounts, relationships, the contacts' match data (alternate
// emails and phones, blocking keys) and the audit log in PostgreSQL. It is safe for concurrent
// use.
type Store struct {
	db *db.DB
	// checks enqueues duplicate checks in the transaction of the change that calls for them;
	// nil enqueues none (see SetChecks).
	checks CheckEnqueuer
}

// CheckEnqueuer enqueues duplicate checks of contacts inside a transaction. The contact package
// does not know the duplicate checker (package dedupe depends on it, not the other way round),
// so the checker hands the store this when the process is wired (internal/app).
type CheckEnqueuer interface {
	EnqueueChecksTx(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) error
}

// NewStore returns a Store over d. The database must be migrated.
func NewStore(d *db.DB) *Store { return &Store{db: d} }

// SetChecks sets how the store enqueues the duplicate check a contact's new keys call for
// (Normalize). Call it once, before the store is used.
func (s *Store) SetChecks(c CheckEnqueuer) { s.checks = c }

// DB returns the database the store works on.
func (s *Store) DB() *db.DB { return s.db }

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
