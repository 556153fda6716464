package merge

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/contactd/contactd/contact"
	"github.com/google/uuid"
)

// Preview is what a merge would do.
type Preview struct {
	// Merge is the merge that would be made (its id and time are the rolled-back merge's).
	Merge *Merge
	// Survivor is the survivor as it would be, with its relationships.
	Survivor *contact.Contact
	// Moves counts, per kind of row ("relationships.accounts", "externalRefs", and every other
	// concern's), the rows of the merged contacts the merge would carry to the survivor or
	// re-point; "alternates" counts the emails and phones the survivor would gain.
	Moves map[string]int
}

// PreviewMerge makes the merge MergeContacts would make, with every check and rule, in a
// transaction it then rolls back: nothing is written (no merge, no audit, no job), and the
// answer is exactly what MergeContacts would do now.
func (s *Store) PreviewMerge(ctx context.Context, req Request) (*Preview, error) {
	tx, err := s.db.Pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("merge: preview: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // rolling back is the point; an error leaves nothing either
	m, err := s.MergeTx(ctx, tx, req)
	if err != nil {
		return nil, err
	}
	survivor, err := s.contacts.GetContactTx(ctx, tx, m.SurvivorID)
	if err != nil {
		return nil, err
	}
	var snapshot []byte
	if err := tx.QueryRow(ctx, `SELECT snapshot - 'contacts' - 'after' - 'state' - 'changes' - 'auditIds' FROM merges WHERE id = $1`, m.ID).Scan(&snapshot); err != nil {
		return nil, fmt.Errorf("merge: preview: read snapshot: %w", err)
	}
	moves, err := countMoves(snapshot, m.MergedIDs)
	if err != nil {
		return nil, err
	}
	// The merged contacts' own emails and phones become the survivor's alternates too: count
	// what the survivor gained.
	before, err := countMoves(snapshot, []uuid.UUID{m.SurvivorID})
	if err != nil {
		return nil, err
	}
	var after int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM contact_alternates WHERE contact_id = $1`, m.SurvivorID).Scan(&after); err != nil {
		return nil, fmt.Errorf("merge: preview: count alternates: %w", err)
	}
	moves["alternates"] = after - before["alternates"]
	return &Preview{Merge: m, Survivor: survivor, Moves: moves}, nil
}

// countMoves counts, in a snapshot's concerns (each an array of rows, or an object of such
// arrays), the rows whose contact_id is one of the merged contacts.
func countMoves(snapshot []byte, merged []uuid.UUID) (map[string]int, error) {
	var concerns map[string]json.RawMessage
	if err := json.Unmarshal(snapshot, &concerns); err != nil {
		return nil, fmt.Errorf("merge: preview: decode snapshot: %w", err)
	}
	isMerged := map[string]bool{}
	for _, id := range merged {
		isMerged[id.String()] = true
	}
	moves := map[string]int{}
	var count func(name string, v json.RawMessage)
	count = func(name string, v json.RawMessage) {
		var rows []struct {
			ContactID string `json:"contact_id"`
		}
		if json.Unmarshal(v, &rows) == nil {
			moves[name] += 0
			for _, r := range rows {
				if isMerged[r.ContactID] {
					moves[name]++
				}
			}
			return
		}
		var parts map[string]json.RawMessage
		if json.Unmarshal(v, &parts) == nil {
			for k, p := range parts {
				count(name+"."+k, p)
			}
		}
	}
	for name, v := range concerns {
		count(name, v)
	}
	return moves, nil
}
