package tag

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/contactd/contactd/contact"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Concern is the contact.Owned concern of contacts' tags (table contact_tags): a merge gives
// the survivor the union of its contacts' tags and takes them off the merged contacts; an undo
// gives the merged contacts their tags back and takes off the survivor the ones the merge
// added, where they are still there.
var Concern contact.Owned = tagsOwned{}

type tagsOwned struct{}

func (tagsOwned) Name() string { return "tags" }

func (tagsOwned) SnapshotSQL(v contact.SnapshotVars) string {
	return `(SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.contact_id, r.tag_id), '[]') FROM contact_tags r
		WHERE r.contact_id = ANY(` + v.All + `))`
}

// mergeState is what a merge added to its survivor: the tags it lacked.
type mergeState struct {
	Added []uuid.UUID `json:"added"`
}

// MergeTx moves each merge's tags to its survivor, one statement per merge in one round trip
// (in order: a later merge of the chunk may take an earlier one's survivor).
func (tagsOwned) MergeTx(ctx context.Context, tx pgx.Tx, ms []*contact.MergeSet) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, len(ms))
	b := &pgx.Batch{}
	for i, m := range ms {
		b.Queue(`
			WITH moved AS (DELETE FROM contact_tags WHERE contact_id = ANY($2) RETURNING tag_id, created_at),
			ins AS (INSERT INTO contact_tags (contact_id, tag_id, created_at)
				SELECT DISTINCT ON (tag_id) $1::uuid, tag_id, created_at FROM moved ORDER BY tag_id, created_at
				ON CONFLICT DO NOTHING RETURNING tag_id)
			SELECT coalesce(array_agg(tag_id ORDER BY tag_id), '{}') FROM ins`, m.SurvivorID, m.Merged,
		).QueryRow(func(row pgx.Row) error {
			var st mergeState
			if err := row.Scan(&st.Added); err != nil {
				return err
			}
			var err error
			out[i], err = json.Marshal(st)
			return err
		})
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("tag: merge tags: %w", err)
	}
	return out, nil
}

// UndoTx gives the merged contacts the tags the snapshot shows (those not deleted since) and
// takes the ones the merge added off the survivor.
func (tagsOwned) UndoTx(ctx context.Context, tx pgx.Tx, u *contact.UndoSet) ([]string, error) {
	if len(u.Rows) == 0 {
		return nil, nil
	}
	var st mergeState
	if len(u.State) > 0 {
		if err := json.Unmarshal(u.State, &st); err != nil {
			return nil, fmt.Errorf("tag: undo state: %w", err)
		}
	}
	if len(st.Added) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM contact_tags WHERE contact_id = $1 AND tag_id = ANY($2)`, u.SurvivorID, st.Added); err != nil {
			return nil, fmt.Errorf("tag: undo tags: %w", err)
		}
	}
	rows, err := tx.Query(ctx, `
		WITH snap AS (SELECT * FROM jsonb_populate_recordset(null::contact_tags, $1) r WHERE r.contact_id = ANY($2)),
		ins AS (INSERT INTO contact_tags (contact_id, tag_id, created_at)
			SELECT s.contact_id, s.tag_id, s.created_at FROM snap s JOIN tags t ON t.id = s.tag_id
			ON CONFLICT DO NOTHING RETURNING contact_id, tag_id)
		SELECT s.contact_id, s.tag_id FROM snap s WHERE NOT EXISTS (SELECT 1 FROM tags t WHERE t.id = s.tag_id)`,
		u.Rows, u.Merged)
	if err != nil {
		return nil, fmt.Errorf("tag: undo tags: %w", err)
	}
	defer rows.Close()
	var report []string
	for rows.Next() {
		var cid, tid uuid.UUID
		if err := rows.Scan(&cid, &tid); err != nil {
			return nil, fmt.Errorf("tag: undo tags: %w", err)
		}
		report = append(report, fmt.Sprintf("contacts[%s].tags: tag %s was deleted since; not restored", cid, tid))
	}
	return report, rows.Err()
}

func (tagsOwned) EraseTx(ctx context.Context, tx pgx.Tx, contactIDs []uuid.UUID) error {
	if _, err := tx.Exec(ctx, `DELETE FROM contact_tags WHERE contact_id = ANY($1)`, contactIDs); err != nil {
		return fmt.Errorf("tag: erase tags: %w", err)
	}
	return nil
}
