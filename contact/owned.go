package contact

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Owned is data a concern keeps about contacts in tables of its own: relationships, external
// references, review items, and next communications, consent events, tags, sync links. It is
// the one extension point for contact-owned data. A concern implements it once and is handed to
// the merge store (internal/app wires every concern); from then on every merge moves or keeps
// its rows and records them in the merge's snapshot, every undo restores them, and erasure
// scrubs them, without edits to the merge code.
//
// A concern whose rows simply follow their contact to the survivor and back can use MovedRows
// instead of writing the methods.
type Owned interface {
	// Name keys the concern's rows and state in a merge's snapshot; unique among concerns.
	Name() string
	// SnapshotSQL returns a SQL expression (a scalar subquery) whose jsonb value is what the
	// concern keeps of a merge's contacts as they were before it, for the record and for
	// UndoTx. v names the SQL expressions it may use.
	SnapshotSQL(v SnapshotVars) string
	// MergeTx applies merges (already checked, their contacts locked and the survivors'
	// values written) to the concern's rows, inside the merge's transaction. It returns, by
	// position in ms, what UndoTx needs to reverse each one (nil when the snapshot is enough).
	MergeTx(ctx context.Context, tx pgx.Tx, ms []*MergeSet) ([]json.RawMessage, error)
	// UndoTx reverses one merge inside the undo's transaction, after the contacts were
	// restored. It returns a line for each thing it could not restore (changed since).
	UndoTx(ctx context.Context, tx pgx.Tx, u *UndoSet) ([]string, error)
	// EraseTx removes the concern's rows about the contacts (erasure of a person's data).
	EraseTx(ctx context.Context, tx pgx.Tx, contactIDs []uuid.UUID) error
}

// Locker is implemented by concerns that must lock rows of their own before a merge reads its
// snapshot (relationships lock their accounts, so that no primary flag changes under a merge).
type Locker interface {
	LockTx(ctx context.Context, tx pgx.Tx, contactIDs []uuid.UUID) error
}

// SnapshotVars are the SQL expressions a concern's SnapshotSQL may use.
type SnapshotVars struct {
	// All is a uuid[] of every contact of the merge, the survivor included.
	All string
	// Merged is a uuid[] of the contacts merged away.
	Merged string
	// EarlierMerged returns a SQL condition: the contact in column col is merged away by an
	// earlier merge of the same transaction (a bulk merge writes many at once; what an earlier
	// one took is not this one's to restore).
	EarlierMerged func(col string) string
}

// MergeSet is one merge as a concern sees it.
type MergeSet struct {
	MergeID    uuid.UUID
	SurvivorID uuid.UUID
	// Merged are the contacts merged away and All every contact of the merge, sorted by id.
	Merged, All []uuid.UUID
	// Contacts are the merge's contacts as they were before it, by id.
	Contacts map[uuid.UUID]*Contact
	// Survivor is the survivor as the merge left it (its values written, its alternates moved),
	// and SurvivorAlternates every alternate it now carries.
	Survivor           *Contact
	SurvivorAlternates []Alternate
	// FollowUp says the survivor should be checked for duplicates again; a bulk merge of
	// clusters whose every pair was weighed says no.
	FollowUp bool
	Actor    string
}

// UndoSet is one merge being undone, as a concern sees it.
type UndoSet struct {
	MergeID    uuid.UUID
	SurvivorID uuid.UUID
	Merged     []uuid.UUID
	// All are every contact of the merge, sorted by id.
	All []uuid.UUID
	// Rows is what the concern's SnapshotSQL gave when the merge was made (nil for merges made
	// before the concern existed) and State what its MergeTx returned.
	Rows, State json.RawMessage
	// Restored are the merge's contacts as the undo restored them.
	Restored []*Contact
	// Score is the merge's score (nil for a person's merge).
	Score *float64
	Actor string
}

// MovedRows is an Owned for a table whose rows belong to one contact each (column Column) and
// simply follow it: a merge moves the merged contacts' rows to the survivor, an undo moves back
// those still on the survivor, erasure deletes them. Key are the columns that identify a row
// (its primary key).
type MovedRows struct {
	// Concern is the name in snapshots.
	Concern string
	Table   string
	Column  string
	Key     []string
}

// Name is the concern's name.
func (m MovedRows) Name() string { return m.Concern }

// SnapshotSQL gives the rows of the merge's contacts.
func (m MovedRows) SnapshotSQL(v SnapshotVars) string {
	return fmt.Sprintf(`(SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY %s), '[]') FROM %s r WHERE r.%s = ANY(%s))`,
		m.orderBy("r."), m.Table, m.Column, v.All)
}

func (m MovedRows) orderBy(prefix string) string {
	out := ""
	for i, k := range m.Key {
		if i > 0 {
			out += ", "
		}
		out += prefix + k
	}
	return out
}

// MergeTx moves the merged contacts' rows to their survivors, in one statement.
func (m MovedRows) MergeTx(ctx context.Context, tx pgx.Tx, ms []*MergeSet) ([]json.RawMessage, error) {
	var merged, survivors []uuid.UUID
	for _, s := range ms {
		for _, id := range s.Merged {
			merged, survivors = append(merged, id), append(survivors, s.SurvivorID)
		}
	}
	_, err := tx.Exec(ctx, fmt.Sprintf(`UPDATE %s r SET %s = u.s FROM unnest($1::uuid[], $2::uuid[]) AS u(id, s)
		WHERE r.%s = u.id`, m.Table, m.Column, m.Column), merged, survivors)
	if err != nil {
		return nil, fmt.Errorf("contact: move %s: %w", m.Concern, err)
	}
	return make([]json.RawMessage, len(ms)), nil
}

// UndoTx moves back every row the snapshot shows on a merged contact that is still on the
// survivor, and reports the rows that are not.
func (m MovedRows) UndoTx(ctx context.Context, tx pgx.Tx, u *UndoSet) ([]string, error) {
	if len(u.Rows) == 0 {
		return nil, nil
	}
	match := ""
	for _, k := range m.Key {
		match += fmt.Sprintf(" AND t.%s = r.%s", k, k)
	}
	// The rows of merged contacts the snapshot has, and whether each came back.
	rows, err := tx.Query(ctx, fmt.Sprintf(`
		WITH snap AS (SELECT * FROM jsonb_populate_recordset(null::%[1]s, $1) r WHERE r.%[2]s = ANY($2)),
		moved AS (UPDATE %[1]s t SET %[2]s = r.%[2]s FROM snap r WHERE t.%[2]s = $3%[3]s RETURNING t.*)
		SELECT r.%[2]s, to_jsonb(r) FROM snap r WHERE NOT EXISTS (SELECT 1 FROM moved t WHERE true%[3]s)`,
		m.Table, m.Column, match), u.Rows, u.Merged, u.SurvivorID)
	if err != nil {
		return nil, fmt.Errorf("contact: restore %s: %w", m.Concern, err)
	}
	defer rows.Close()
	var report []string
	for rows.Next() {
		var owner uuid.UUID
		var row json.RawMessage
		if err := rows.Scan(&owner, &row); err != nil {
			return nil, fmt.Errorf("contact: restore %s: %w", m.Concern, err)
		}
		report = append(report, fmt.Sprintf("contacts[%s].%s: %s no longer belongs to the survivor; not restored", owner, m.Concern, row))
	}
	return report, rows.Err()
}

// EraseTx deletes the contacts' rows.
func (m MovedRows) EraseTx(ctx context.Context, tx pgx.Tx, contactIDs []uuid.UUID) error {
	if _, err := tx.Exec(ctx, fmt.Sprintf(`DELETE FROM %s WHERE %s = ANY($1)`, m.Table, m.Column), contactIDs); err != nil {
		return fmt.Errorf("contact: erase %s: %w", m.Concern, err)
	}
	return nil
}
