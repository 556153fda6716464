package webhook

import (
	"context"
	"fmt"
	"time"

	"github.com/contactd/contactd/event"
)

// pruneBatch bounds the events one round of PruneEvents deletes in a transaction.
const pruneBatch = 10_000

// PruneEvents deletes the events older than retention that every active webhook has finished
// with (its cursor is past them; inactive webhooks resume from the head when reactivated), a
// batch at a time until none is left or ctx ends, and returns how many it deleted. A zero
// retention keeps every event.
func (s *Store) PruneEvents(ctx context.Context, retention time.Duration) (int64, error) {
	if retention <= 0 {
		return 0, nil
	}
	var upTo int64
	err := s.db.Pool.QueryRow(ctx, `SELECT coalesce((SELECT min(cursor) FROM webhooks WHERE active),
		(SELECT coalesce(max(seq), 0) FROM events))`).Scan(&upTo)
	if err != nil {
		return 0, fmt.Errorf("webhook: prune events: %w", err)
	}
	before := time.Now().Add(-retention)
	var total int64
	for ctx.Err() == nil {
		n, err := event.Prune(ctx, s.db, before, upTo, pruneBatch)
		total += n
		if err != nil || n < pruneBatch {
			return total, err
		}
	}
	return total, ctx.Err()
}
