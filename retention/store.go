package retention

import (
	"context"

	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Eraser erases contacts (Art. 17) in the caller's transaction, auditing each as actor. The
// erasure package provides it; internal/app wires it.
type Eraser interface {
	EraseTx(ctx context.Context, tx pgx.Tx, contactIDs []uuid.UUID, actor string) error
}

// Purger deletes every communication of contacts in the caller's transaction, auditing each
// contact that had some as actor. Package communication provides it.
type Purger interface {
	PurgeTx(ctx context.Context, tx pgx.Tx, contactIDs []uuid.UUID, actor string) error
}

// DefaultBatchSize is how many contacts a run changes per transaction.
const DefaultBatchSize = 1000

// MaxDryRunIDs bounds the contact ids a dry run lists (it counts them all).
const MaxDryRunIDs = 1000

// Store keeps retention policies and their runs, and runs them.
type Store struct {
	db     *db.DB
	purger Purger
	eraser Eraser
	// BatchSize is how many contacts a run changes per transaction (DefaultBatchSize when 0).
	BatchSize int
}

// NewStore returns a store over d that purges communications through purger. Until SetEraser
// is called, erase policies cannot be created or run.
func NewStore(d *db.DB, purger Purger) *Store { return &Store{db: d, purger: purger} }

// SetEraser sets how erase policies erase.
func (s *Store) SetEraser(e Eraser) { s.eraser = e }

func (s *Store) batchSize() int {
	if s.BatchSize > 0 {
		return s.BatchSize
	}
	return DefaultBatchSize
}
