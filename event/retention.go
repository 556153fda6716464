package event

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/contactd/contactd/internal/db"
	"github.com/jackc/pgx/v5"
)

// PrunedThrough returns the highest seq retention has deleted (0 when none): the feed has no
// event at or below it any more.
func PrunedThrough(ctx context.Context, q db.Querier) (int64, error) {
	var seq int64
	err := q.QueryRow(ctx, `SELECT pruned_through FROM events_horizon`).Scan(&seq)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("event: read the retention horizon: %w", err)
	}
	return seq, nil
}

// Prune deletes the oldest numbered events, at most limit of them, up to (not including) the
// first that occurred at or after before or has a seq above upTo (what every reader that must
// not miss them has read), and returns how many it deleted. What it deletes is a prefix of the
// feed, so the horizon it raises in the same transaction (PrunedThrough) means that no event
// at or below it is left.
func Prune(ctx context.Context, d *db.DB, before time.Time, upTo int64, limit int) (int64, error) {
	var n int64
	err := d.InTx(ctx, func(tx pgx.Tx) error {
		var through *int64
		err := tx.QueryRow(ctx, `
			WITH head AS (
				SELECT id, seq, occurred_at FROM events WHERE seq IS NOT NULL ORDER BY seq LIMIT $3),
			cut AS (SELECT min(seq) AS s FROM head WHERE occurred_at >= $1 OR seq > $2),
			gone AS (
				DELETE FROM events WHERE id IN (SELECT head.id FROM head, cut WHERE cut.s IS NULL OR head.seq < cut.s)
				RETURNING seq)
			SELECT max(seq), count(*) FROM gone`, before, upTo, limit).Scan(&through, &n)
		if err != nil || through == nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO events_horizon (pruned_through) VALUES ($1)
			ON CONFLICT (one) DO UPDATE SET pruned_through = greatest(events_horizon.pruned_through, EXCLUDED.pruned_through)`, *through)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("event: prune: %w", err)
	}
	return n, nil
}
