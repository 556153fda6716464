package merge

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// EraseTx scrubs the merges involving the contacts (as survivor or merged) for an erasure of
// the people they are: a merge's snapshot holds every value of every contact it touched, so it
// becomes {"erased": [ids]} and its field sources and undo report go. The merge itself stays
// (who merged what, when, with what score), and it can no longer be undone: UndoMerge answers
// KindGone. Erasure erases whole people (every contact of a merge not undone), so no one else's
// values are lost with a merge that could still be undone; an undone merge's snapshot held the
// other contacts' values of that moment only for the record.
func EraseTx(ctx context.Context, tx pgx.Tx, contactIDs []uuid.UUID) error {
	_, err := tx.Exec(ctx, `UPDATE merges SET snapshot = jsonb_build_object('erased', to_jsonb($1::uuid[])),
			field_values = '{}', undo_report = CASE WHEN undo_report IS NULL THEN NULL ELSE '["erased"]'::jsonb END
		WHERE survivor_id = ANY($1) OR merged_ids && $1`, contactIDs)
	if err != nil {
		return fmt.Errorf("merge: erase snapshots: %w", err)
	}
	return nil
}

// MergesOf returns the merges involving the contacts (as survivor or merged), oldest first.
func (s *Store) MergesOf(ctx context.Context, contactIDs []uuid.UUID) ([]*Merge, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT `+mergeColumns+` FROM merges
		WHERE survivor_id = ANY($1) OR merged_ids && $1 ORDER BY created_at, id`, contactIDs)
	if err != nil {
		return nil, fmt.Errorf("merge: merges of contacts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Merge, error) { return scanMerge(r) })
	if err != nil {
		return nil, fmt.Errorf("merge: merges of contacts: %w", err)
	}
	return out, nil
}
