package merge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// UndoMerge reverses a merge: the merged contacts come back as they were (fields, status,
// alternates, and every concern's rows as the concern restores them: relationships, external
// references, review items, ...; their audit history is theirs again once they no longer point
// at the survivor) and the survivor gets back the values it had, except those changed since the
// merge, which stay. It returns the undone merge and a line for each value it could not
// restore. It fails with KindConflict when the merge is undone already, or when a later merge
// still holds its contacts (undo that one first).
func (s *Store) UndoMerge(ctx context.Context, id uuid.UUID) (*Merge, []string, error) {
	// The contacts of a merge never change: read them unlocked, lock them in id order (as merges
	// do), then lock and check the merge itself.
	var survivorID uuid.UUID
	var mergedIDs []uuid.UUID
	err := s.db.Pool.QueryRow(ctx, `SELECT survivor_id, merged_ids FROM merges WHERE id = $1`, id).Scan(&survivorID, &mergedIDs)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, db.NotFound("merge %s not found", id)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("merge: get %s: %w", id, err)
	}
	var report []string
	err = s.db.RetryTx(ctx, func(tx pgx.Tx) error {
		var err error
		report, err = s.undoTx(ctx, tx, id, survivorID, mergedIDs)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	m, err := s.GetMerge(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	return m, report, nil
}

// snapshot is a merge's snapshot as undo reads it: the core's parts, and every concern's rows
// and state by the concern's name.
type snapshot struct {
	Contacts   json.RawMessage            `json:"contacts"`
	After      json.RawMessage            `json:"after"`
	Alternates json.RawMessage            `json:"alternates"`
	State      map[string]json.RawMessage `json:"state"`
	// AuditIDs are the audit entries the merge moved to the survivor, by the contact they came
	// from (merges made before history stayed put).
	AuditIDs json.RawMessage `json:"auditIds"`
	// Changes is where merges made before concerns had state kept the relationship changes.
	Changes json.RawMessage `json:"changes"`
	rows    map[string]json.RawMessage
}

// hasKey reports whether the JSON object raw has the key.
func hasKey(raw []byte, key string) bool {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return false
	}
	_, ok := top[key]
	return ok
}

func readSnapshot(raw []byte) (*snapshot, error) {
	var snap snapshot
	if err := json.Unmarshal(raw, &snap); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &snap.rows); err != nil {
		return nil, err
	}
	if snap.State == nil && len(snap.Changes) > 0 {
		snap.State = map[string]json.RawMessage{"relationships": snap.Changes}
	}
	return &snap, nil
}

func (s *Store) undoTx(ctx context.Context, tx pgx.Tx, id, survivorID uuid.UUID, mergedIDs []uuid.UUID) ([]string, error) {
	all := slices.SortedFunc(slices.Values(append([]uuid.UUID{survivorID}, mergedIDs...)), db.CompareUUID)
	current, err := contact.LockTx(ctx, tx, all)
	if err != nil {
		return nil, err
	}
	var undoneAt *string
	var raw []byte
	var score *float64
	err = tx.QueryRow(ctx, `SELECT undone_at::text, snapshot, score FROM merges WHERE id = $1 FOR NO KEY UPDATE`, id).Scan(&undoneAt, &raw, &score)
	if err != nil {
		return nil, fmt.Errorf("merge: lock merge %s: %w", id, err)
	}
	if undoneAt != nil {
		return nil, db.Conflict("merge %s has already been undone", id)
	}
	if erased := hasKey(raw, "erased"); erased {
		return nil, db.Gone("merge %s cannot be undone: its contacts were erased", id)
	}
	if err := checkUndoable(ctx, tx, id, survivorID, mergedIDs, current); err != nil {
		return nil, err
	}
	snap, err := readSnapshot(raw)
	if err != nil {
		return nil, fmt.Errorf("merge: snapshot of %s: %w", id, err)
	}
	before, err := contact.SnapshotRowsTx(ctx, tx, snap.Contacts)
	if err != nil {
		return nil, err
	}
	afterList, err := contact.SnapshotRowsTx(ctx, tx, []byte("["+string(snap.After)+"]"))
	if err != nil {
		return nil, err
	}
	if before[survivorID] == nil || afterList[survivorID] == nil {
		return nil, fmt.Errorf("merge: merge %s: the snapshot lacks the survivor", id)
	}
	report := []string{}
	a := contact.NewAudit(ctx)

	// The merged contacts come back whole: nothing can change a merged contact.
	if err := contact.RestoreTx(ctx, tx, snap.Contacts, mergedIDs); err != nil {
		return nil, err
	}
	for _, mid := range mergedIDs {
		a.Add("unmerge", "contact", mid, &mid, map[string]contact.Change{
			"mergeId":    {After: id.String()},
			"status":     {Before: string(contact.StatusMerged), After: string(before[mid].Status)},
			"mergedInto": {Before: survivorID.String(), After: nil},
		})
	}
	changes, lines, err := restoreSurvivor(ctx, tx, current[survivorID], before[survivorID], afterList[survivorID])
	if err != nil {
		return nil, err
	}
	report = append(report, lines...)
	// The merged contacts claim their unique custom values only now: a value the merge gave the
	// survivor has just gone back with the survivor's restore.
	if err := contact.ClaimRestoredTx(ctx, tx, mergedIDs); err != nil {
		return nil, err
	}
	changes["mergeId"] = contact.Change{After: id.String()}
	changes["restoredIds"] = contact.Change{After: mergedIDs}
	a.Add("unmerge", "contact", survivorID, &survivorID, changes)
	if err := contact.MoveAuditBackTx(ctx, tx, snap.AuditIDs, survivorID); err != nil {
		return nil, err
	}
	if err := contact.RestoreAlternatesTx(ctx, tx, id, snap.Alternates, mergedIDs); err != nil {
		return nil, err
	}
	restored, err := contact.ReadTx(ctx, tx, all)
	if err != nil {
		return nil, err
	}
	// Every concern's rows, as the concern restores them.
	for _, o := range s.owned {
		lines, err := o.UndoTx(ctx, tx, &contact.UndoSet{
			MergeID: id, SurvivorID: survivorID, Merged: mergedIDs, All: all,
			Rows: snap.rows[o.Name()], State: snap.State[o.Name()], Restored: restored, Score: score, Actor: a.Actor(),
		})
		if err != nil {
			return nil, err
		}
		report = append(report, lines...)
	}
	if _, err := tx.Exec(ctx, `UPDATE merges SET undone_at = now(), undone_by = $2, undo_report = $3 WHERE id = $1`,
		id, a.Actor(), report); err != nil {
		return nil, fmt.Errorf("merge: undo merge %s: %w", id, err)
	}
	return report, a.Flush(ctx, tx)
}

// checkUndoable fails with KindConflict unless the merge's contacts are still as it left them:
// the survivor active and each merged contact merged into it by this merge alone.
func checkUndoable(ctx context.Context, tx pgx.Tx, id, survivorID uuid.UUID, mergedIDs []uuid.UUID, current map[uuid.UUID]*contact.Contact) error {
	later := func(contactID uuid.UUID) string {
		var mid uuid.UUID
		err := tx.QueryRow(ctx, `SELECT id FROM merges WHERE $1 = ANY(merged_ids) AND undone_at IS NULL AND id <> $2
			ORDER BY id DESC LIMIT 1`, contactID, id).Scan(&mid)
		if err != nil {
			return ""
		}
		return " by merge " + mid.String()
	}
	if sv := current[survivorID]; sv == nil || sv.Status == contact.StatusMerged {
		return db.Conflict("the survivor %s has since been merged into another contact%s; undo that merge first", survivorID, later(survivorID))
	}
	for _, mid := range mergedIDs {
		c := current[mid]
		if c == nil || c.Status != contact.StatusMerged || c.MergedInto == nil || *c.MergedInto != survivorID {
			return db.Conflict("contact %s has since been merged again%s; undo that merge first", mid, later(mid))
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM merges WHERE $1 = ANY(merged_ids) AND undone_at IS NULL AND id <> $2`,
			mid, id).Scan(&n); err != nil {
			return fmt.Errorf("merge: check later merges: %w", err)
		}
		if n > 0 {
			return db.Conflict("contact %s has since been merged again%s; undo that merge first", mid, later(mid))
		}
	}
	return nil
}

// restoreSurvivor gives the survivor back the values it had before the merge, field by field,
// where it still has the value the merge gave it; a field changed since keeps its value and
// gets a line in the report. It returns the audited changes and the report.
func restoreSurvivor(ctx context.Context, tx pgx.Tx, cur, before, after *contact.Contact) (map[string]contact.Change, []string, error) {
	var report []string
	out := *cur
	out.Preferences = cur.Preferences.Clone()
	same := func(a, b *string) bool { return contact.StrValue(a) == contact.StrValue(b) }
	// A group of fields (the postal address) is restored as a whole or kept as a whole: when any
	// of its fields changed since the merge, the survivor keeps the whole group as it is now, so
	// an undo never mixes a street of one address with a city of another.
	changedGroups := map[string]bool{}
	for _, f := range contact.Fields {
		if c := f.Get(&cur.Values); f.Group != "" && !same(c, f.Get(&before.Values)) && !same(c, f.Get(&after.Values)) {
			changedGroups[f.Group] = true
		}
	}
	for _, f := range contact.Fields {
		c, b, a := f.Get(&cur.Values), f.Get(&before.Values), f.Get(&after.Values)
		switch {
		case same(c, b):
		case changedGroups[f.Group] && same(c, a):
			report = append(report, fmt.Sprintf("survivor.%s kept with its %s, which changed since the merge", f.Name, f.Group))
		case same(c, a):
			*f.Ptr(&out.Values) = b
			switch f.Kind {
			case contact.KindEmail:
				out.Normalized.Email = before.Normalized.Email
			case contact.KindPhone:
				out.Normalized.Phone, out.Normalized.PhoneExtension, out.Normalized.PhoneValid =
					before.Normalized.Phone, before.Normalized.PhoneExtension, before.Normalized.PhoneValid
			}
		default:
			kept := "no value"
			if c != nil {
				kept = fmt.Sprintf("%q", *c)
			}
			report = append(report, fmt.Sprintf("survivor.%s changed since the merge; kept %s", f.Name, kept))
		}
	}
	switch {
	case cur.Preferences.Equal(before.Preferences):
	case cur.Preferences.Equal(after.Preferences):
		out.Preferences = before.Preferences.Clone()
	default:
		report = append(report, "survivor.preferences changed since the merge; kept the current ones")
	}
	for _, cf := range contact.CompositeFields {
		report = append(report, cf.Restore(&out, cur, before, after)...)
	}
	changes := out.Changes(cur)
	if err := contact.WriteTx(ctx, tx, []*contact.Contact{&out}, false); err != nil {
		return nil, nil, err
	}
	return changes, report, nil
}
