package consent

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Events is the contact.Owned concern of consent events. Events keep their contact through a
// merge (the survivor's consent is computed over every record folded into it), so a merge moves
// nothing and only notes when it happened; an undo copies to each restored contact the
// withdrawals recorded on the survivor while they were merged (a withdrawal given to the merged
// person holds for each of them), and erasure deletes the events. Each recomputes the consent
// state of the contacts whose fold it changed (state.go).
type Events struct{ s *Store }

// Concern returns the store's contact.Owned concern.
func (s *Store) Concern() Events { return Events{s: s} }

// Name is the concern's name in merge snapshots.
func (Events) Name() string { return "consent_events" }

// SnapshotSQL records nothing: a merge changes no consent event.
func (Events) SnapshotSQL(contact.SnapshotVars) string { return `(SELECT '[]'::jsonb)` }

type mergeState struct {
	At time.Time `json:"at"`
}

// MergeTx moves nothing, recomputes the survivors' consent state (now over the merged contacts'
// events too) and returns the merge's time, from which UndoTx copies withdrawals. The merges are
// not recorded yet, so the merged contacts join their survivor at the end of time in the fold:
// that gives the verdicts the merge's own time gives, as every event it sees was recorded
// before it (events and merges are dated by the clock under the contacts' locks, which the merge
// holds; see insertTx).
func (Events) MergeTx(ctx context.Context, tx pgx.Tx, ms []*contact.MergeSet) ([]json.RawMessage, error) {
	survivors := make([]uuid.UUID, 0, len(ms))
	for _, m := range ms {
		if !slices.Contains(survivors, m.SurvivorID) {
			survivors = append(survivors, m.SurvivorID)
		}
	}
	if err := refreshRootsTx(ctx, tx, survivors); err != nil {
		return nil, err
	}
	var at time.Time
	if err := tx.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&at); err != nil {
		return nil, fmt.Errorf("consent: merge: %w", err)
	}
	st, err := json.Marshal(mergeState{At: at})
	if err != nil {
		return nil, err
	}
	out := make([]json.RawMessage, len(ms))
	for i := range ms {
		out[i] = st
	}
	return out, nil
}

// UndoTx copies every withdrawal recorded on the survivor since the merge to each restored
// contact (source merge_undo, the same capture time, channel, purpose and basis), audited, and
// recomputes the consent state of the survivor and of the restored contacts.
func (e Events) UndoTx(ctx context.Context, tx pgx.Tx, u *contact.UndoSet) ([]string, error) {
	if err := e.copyWithdrawalsTx(ctx, tx, u); err != nil {
		return nil, err
	}
	return nil, refreshRootsTx(ctx, tx, append([]uuid.UUID{u.SurvivorID}, u.Merged...))
}

// copyWithdrawalsTx copies the withdrawals recorded on the survivor since the merge to each
// restored contact (UndoTx).
func (e Events) copyWithdrawalsTx(ctx context.Context, tx pgx.Tx, u *contact.UndoSet) error {
	if len(u.State) == 0 || string(u.State) == "null" {
		return nil
	}
	var st mergeState
	if err := json.Unmarshal(u.State, &st); err != nil {
		return fmt.Errorf("consent: undo state %s: %w", u.State, err)
	}
	rows, err := tx.Query(ctx, `SELECT channel, purpose, lawful_basis, captured_at, id FROM consent_events
		WHERE contact_id = $1 AND status = 'withdrawn' AND recorded_at >= $2 ORDER BY id`, u.SurvivorID, st.At)
	if err != nil {
		return fmt.Errorf("consent: undo %s: %w", u.MergeID, err)
	}
	type w struct {
		channel, purpose, basis string
		captured                time.Time
		id                      uuid.UUID
	}
	ws, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (w, error) {
		var x w
		err := r.Scan(&x.channel, &x.purpose, &x.basis, &x.captured, &x.id)
		return x, err
	})
	if err != nil {
		return fmt.Errorf("consent: undo %s: %w", u.MergeID, err)
	}
	if len(ws) == 0 {
		return nil
	}
	for _, id := range u.Merged {
		evs := make([]NewEvent, len(ws))
		for i, x := range ws {
			evs[i] = NewEvent{Channel: x.channel, Purpose: x.purpose, Status: Withdrawn, LawfulBasis: x.basis,
				Source: SourceMergeUndo, CapturedAt: x.captured,
				Explanation: fmt.Sprintf("withdrawn on %s (event %s) while merged into it; kept by the undo of merge %s", u.SurvivorID, x.id, u.MergeID)}
		}
		if _, err := e.s.insertTx(contact.WithActor(ctx, u.Actor), tx, id, evs); err != nil {
			return err
		}
	}
	return nil
}

// EraseTx deletes the contacts' consent events and empties their consent state: an erased
// person keeps no record of what they agreed to (erasure takes a person's whole chain of merged
// contacts, so no contact left standing folded these events).
func (Events) EraseTx(ctx context.Context, tx pgx.Tx, contactIDs []uuid.UUID) error {
	if _, err := tx.Exec(ctx, `DELETE FROM consent_events WHERE contact_id = ANY($1)`, contactIDs); err != nil {
		return fmt.Errorf("consent: erase: %w", err)
	}
	empty := make([]string, len(contactIDs))
	for i := range empty {
		empty[i] = "{}"
	}
	return contact.SetConsentStatesTx(ctx, tx, contactIDs, empty)
}
