package dedupe

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"

	"github.com/contactd/contactd/contact"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Reviews returns the contact.Owned concern of review items (duplicate_reviews). A merge
// marks the open reviews between its contacts merged and those of a merged contact with any
// other obsolete, and (unless it is a bulk merge whose every pair was weighed) enqueues a
// duplicate check of the survivor. An undo reopens what the merge closed, records every pair of
// its contacts as dismissed (undoing says they are different people: without that their checks
// would merge them straight back) and enqueues a check of each.
func (s *Store) Reviews() contact.Owned { return reviewsOwned{s} }

type reviewsOwned struct{ s *Store }

func (reviewsOwned) Name() string { return "reviews" }

func (reviewsOwned) SnapshotSQL(v contact.SnapshotVars) string {
	return `(SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.id), '[]') FROM duplicate_reviews r
		WHERE r.status = 'open' AND (r.contact_a = ANY(` + v.Merged + `) OR r.contact_b = ANY(` + v.Merged + `))
		AND NOT (` + v.EarlierMerged("r.contact_a") + ` OR ` + v.EarlierMerged("r.contact_b") + `))`
}

func (o reviewsOwned) MergeTx(ctx context.Context, tx pgx.Tx, ms []*contact.MergeSet) ([]json.RawMessage, error) {
	var allIDs, allMerge, merged, followUp []uuid.UUID
	for _, m := range ms {
		for _, id := range m.All {
			allIDs, allMerge = append(allIDs, id), append(allMerge, m.MergeID)
		}
		merged = append(merged, m.Merged...)
		if m.FollowUp {
			followUp = append(followUp, m.SurvivorID)
		}
	}
	actor := ms[0].Actor
	b := &pgx.Batch{}
	// duplicate_reviews.merge_id refers to merges, written later in the transaction: the
	// constraint is deferred.
	b.Queue(`WITH m AS (SELECT * FROM unnest($2::uuid[], $3::uuid[]) AS m(cid, mid))
		UPDATE duplicate_reviews d SET status = 'merged', merge_id = a.mid, decided_at = now(), decided_by = $1
		FROM m a, m b WHERE d.status = 'open' AND d.contact_a = a.cid AND d.contact_b = b.cid
			AND a.mid = b.mid`, actor, allIDs, allMerge)
	b.Queue(`UPDATE duplicate_reviews SET status = 'obsolete', decided_at = now(), decided_by = $1
		WHERE status = 'open' AND (contact_a = ANY($2) OR contact_b = ANY($2))`, actor, merged)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("dedupe: close reviews of merges: %w", err)
	}
	if len(followUp) > 0 {
		if err := o.s.EnqueueChecksTx(ctx, tx, followUp); err != nil {
			return nil, err
		}
	}
	return make([]json.RawMessage, len(ms)), nil
}

// undoneScore is the score recorded for the pairs of an undone merge that had none (a person's).
var undoneScore = 1.0

func (o reviewsOwned) UndoTx(ctx context.Context, tx pgx.Tx, u *contact.UndoSet) ([]string, error) {
	if len(u.Rows) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE duplicate_reviews d SET status = 'open', merge_id = NULL, decided_at = NULL, decided_by = NULL
			FROM jsonb_populate_recordset(null::duplicate_reviews, $1) r
			WHERE d.id = r.id AND ((d.status = 'merged' AND d.merge_id = $2) OR d.status = 'obsolete')`, u.Rows, u.MergeID); err != nil {
			return nil, fmt.Errorf("dedupe: reopen reviews: %w", err)
		}
	}
	if err := dismissPairsTx(ctx, tx, u.Restored, cmp.Or(u.Score, &undoneScore), u.Actor); err != nil {
		return nil, err
	}
	return nil, o.s.EnqueueChecksTx(ctx, tx, u.All)
}

// EraseTx deletes every review item about the contacts.
func (reviewsOwned) EraseTx(ctx context.Context, tx pgx.Tx, contactIDs []uuid.UUID) error {
	if _, err := tx.Exec(ctx, `DELETE FROM duplicate_reviews WHERE contact_a = ANY($1) OR contact_b = ANY($1)`, contactIDs); err != nil {
		return fmt.Errorf("dedupe: erase reviews: %w", err)
	}
	return nil
}
