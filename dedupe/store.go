package dedupe

import (
	"context"
	"fmt"

	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// Store keeps what deduplication decides and learns: review items (duplicate_reviews), scan
// runs (dedupe_runs) and trained models (matcher_models), and enqueues duplicate checks. It is
// safe for concurrent use.
type Store struct {
	db *db.DB
}

// NewStore returns a Store over d.
func NewStore(d *db.DB) *Store { return &Store{db: d} }

// EnqueueChecksTx enqueues a duplicate check of each contact in tx, the transaction of the
// change that calls for it. A contact with a check waiting already gets no second one.
func (s *Store) EnqueueChecksTx(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) error {
	if len(ids) == 1 {
		if _, err := s.db.Jobs.InsertTx(ctx, tx, CheckArgs{ContactID: ids[0]}, nil); err != nil {
			return fmt.Errorf("dedupe: enqueue duplicate check: %w", err)
		}
		return nil
	}
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: CheckArgs{ContactID: id}}
	}
	if _, err := s.db.Jobs.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("dedupe: enqueue duplicate checks: %w", err)
	}
	return nil
}
