package contact

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// UnionRows is an Owned for a link table whose primary key is (contact, other) — tags, group
// memberships — where MovedRows is not enough: a merge gives the survivor the links it lacks
// (the union) and removes the merged contacts' links, recording which it added; an undo gives
// the merged contacts their links back (where the linked row, in Parent, still exists) and
// takes the added ones off the survivor.
type UnionRows struct {
	// Concern is the name in snapshots.
	Concern string
	// Table is the link table, Column its contact column and Other the column of what the
	// contact is linked to, a row of Parent (by its id).
	Table, Column, Other, Parent string
}

// Name is the concern's name.
func (u UnionRows) Name() string { return u.Concern }

// SnapshotSQL gives the links of the merge's contacts.
func (u UnionRows) SnapshotSQL(v SnapshotVars) string {
	return fmt.Sprintf(`(SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.%[2]s, r.%[3]s), '[]') FROM %[1]s r WHERE r.%[2]s = ANY(%[4]s))`,
		u.Table, u.Column, u.Other, v.All)
}

// unionState is what a merge added to its survivor.
type unionState struct {
	Added []uuid.UUID `json:"added"`
}

// MergeTx moves each merge's links to its survivor, one statement per merge in one round trip
// (in order: a later merge of the chunk may take an earlier one's survivor).
func (u UnionRows) MergeTx(ctx context.Context, tx pgx.Tx, ms []*MergeSet) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, len(ms))
	b := &pgx.Batch{}
	for i, m := range ms {
		b.Queue(fmt.Sprintf(`
			WITH moved AS (DELETE FROM %[1]s WHERE %[2]s = ANY($2) RETURNING %[3]s AS other, created_at),
			ins AS (INSERT INTO %[1]s (%[2]s, %[3]s, created_at)
				SELECT DISTINCT ON (other) $1::uuid, other, created_at FROM moved ORDER BY other, created_at
				ON CONFLICT DO NOTHING RETURNING %[3]s AS other)
			SELECT coalesce(array_agg(other ORDER BY other), '{}') FROM ins`, u.Table, u.Column, u.Other),
			m.SurvivorID, m.Merged,
		).QueryRow(func(row pgx.Row) error {
			var st unionState
			if err := row.Scan(&st.Added); err != nil {
				return err
			}
			var err error
			out[i], err = json.Marshal(st)
			return err
		})
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("contact: merge %s: %w", u.Concern, err)
	}
	return out, nil
}

// UndoTx restores the merged contacts' links and removes what the merge added to the survivor,
// reporting links whose linked row was deleted since.
func (u UnionRows) UndoTx(ctx context.Context, tx pgx.Tx, us *UndoSet) ([]string, error) {
	if len(us.Rows) == 0 {
		return nil, nil
	}
	var st unionState
	if len(us.State) > 0 {
		if err := json.Unmarshal(us.State, &st); err != nil {
			return nil, fmt.Errorf("contact: undo %s state: %w", u.Concern, err)
		}
	}
	if len(st.Added) > 0 {
		if _, err := tx.Exec(ctx, fmt.Sprintf(`DELETE FROM %s WHERE %s = $1 AND %s = ANY($2)`, u.Table, u.Column, u.Other),
			us.SurvivorID, st.Added); err != nil {
			return nil, fmt.Errorf("contact: undo %s: %w", u.Concern, err)
		}
	}
	rows, err := tx.Query(ctx, fmt.Sprintf(`
		WITH snap AS (SELECT * FROM jsonb_populate_recordset(null::%[1]s, $1) r WHERE r.%[2]s = ANY($2)),
		ins AS (INSERT INTO %[1]s (%[2]s, %[3]s, created_at)
			SELECT s.%[2]s, s.%[3]s, s.created_at FROM snap s JOIN %[4]s p ON p.id = s.%[3]s
			ON CONFLICT DO NOTHING RETURNING 1)
		SELECT s.%[2]s, s.%[3]s FROM snap s WHERE NOT EXISTS (SELECT 1 FROM %[4]s p WHERE p.id = s.%[3]s)`,
		u.Table, u.Column, u.Other, u.Parent), us.Rows, us.Merged)
	if err != nil {
		return nil, fmt.Errorf("contact: undo %s: %w", u.Concern, err)
	}
	defer rows.Close()
	var report []string
	for rows.Next() {
		var cid, other uuid.UUID
		if err := rows.Scan(&cid, &other); err != nil {
			return nil, fmt.Errorf("contact: undo %s: %w", u.Concern, err)
		}
		report = append(report, fmt.Sprintf("contacts[%s].%s: %s was deleted since; not restored", cid, u.Concern, other))
	}
	return report, rows.Err()
}

// EraseTx deletes the contacts' links.
func (u UnionRows) EraseTx(ctx context.Context, tx pgx.Tx, contactIDs []uuid.UUID) error {
	if _, err := tx.Exec(ctx, fmt.Sprintf(`DELETE FROM %s WHERE %s = ANY($1)`, u.Table, u.Column), contactIDs); err != nil {
		return fmt.Errorf("contact: erase %s: %w", u.Concern, err)
	}
	return nil
}
