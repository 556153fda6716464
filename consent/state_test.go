package consent_test

import (
	"testing"
	"time"

	"github.com/contactd/contactd/consent"
	"github.com/contactd/contactd/merge"
	"github.com/google/uuid"
)

// TestConcurrentEventsKeepEachOther records two withdrawals (on two channels) on one contact in
// two transactions at once: the second waits for the first (it locks the contact before reading
// its events), so the kept state has both. A writer that computed the state from its own
// snapshot would overwrite the first withdrawal's state with one that lacks it.
func TestConcurrentEventsKeepEachOther(t *testing.T) {
	t.Parallel()
	b := setup(t)
	x := b.newContact(t, "x")
	tx1, err := b.pool.Begin(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx1.Rollback(b.ctx) //nolint:errcheck
	if _, err := b.cs.RecordEventTx(b.ctx, tx1, x, withdraw("email", "marketing", time.Now())); err != nil {
		t.Fatal(err)
	}
	second := make(chan error, 1)
	go func() {
		_, err := b.cs.RecordEvent(b.ctx, x, withdraw("sms", "service", time.Now()))
		second <- err
	}()
	time.Sleep(300 * time.Millisecond) // the second reaches its lock (or, unlocked, computes its state)
	if err := tx1.Commit(b.ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	if got, want := states(t, b)[x], `{"sms/service": 2, "email/marketing": 2}`; got != want {
		t.Fatalf("state %s, want %s", got, want)
	}
}

// TestWithdrawalDuringAMergeReachesTheSurvivor records a withdrawal on a contact while a merge of
// it into another is under way: the withdrawal waits for the merge, then finds the contact's
// new survivor and recomputes its state, so the survivor is not reachable.
func TestWithdrawalDuringAMergeReachesTheSurvivor(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s, x := b.newContact(t, "s"), b.newContact(t, "x")
	b.record(t, s, grant("email", "marketing", time.Now().Add(-time.Hour)))
	tx, err := b.pool.Begin(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(b.ctx) //nolint:errcheck
	if _, err := b.app.Merges.MergeTx(b.ctx, tx, merge.Request{ContactIDs: []uuid.UUID{s, x}, SurvivorID: &s}); err != nil {
		t.Fatal(err)
	}
	withdrawn := make(chan error, 1)
	go func() {
		_, err := b.cs.RecordEvent(b.ctx, x, withdraw("email", "marketing", time.Now()))
		withdrawn <- err
	}()
	time.Sleep(300 * time.Millisecond) // the withdrawal waits for the merge's lock on x
	if err := tx.Commit(b.ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-withdrawn; err != nil {
		t.Fatal(err)
	}
	if got := states(t, b)[s]; got != `{"email/marketing": 2}` {
		t.Fatalf("survivor's state %s, want the withdrawal", got)
	}
	if got := b.reach(t, s, "email", "marketing"); got.Allowed || got.Reason != consent.ReasonWithdrawn {
		t.Fatalf("survivor: %+v, want withdrawn", got)
	}
}

// TestGrantWhileAMergeStartsIsBeforeIt records a grant on a survivor after a merge's
// transaction began but before the merge locked its contacts: the grant came before the merge
// (events and merges are dated under the locks), so it does not lift the merged contact's
// withdrawal, and the kept state and the fold of events agree on that.
func TestGrantWhileAMergeStartsIsBeforeIt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s, x := b.newContact(t, "s"), b.newContact(t, "x")
	b.record(t, x, withdraw("email", "marketing", time.Now().Add(-2*time.Hour)))
	tx, err := b.pool.Begin(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(b.ctx) //nolint:errcheck
	// The transaction's now() is taken by its first statement.
	if _, err := tx.Exec(b.ctx, `SELECT 1`); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	b.record(t, s, grant("email", "marketing", time.Now().Add(-time.Hour)))
	if _, err := b.app.Merges.MergeTx(b.ctx, tx, merge.Request{ContactIDs: []uuid.UUID{s, x}, SurvivorID: &s}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(b.ctx); err != nil {
		t.Fatal(err)
	}
	kept := b.reach(t, s, "email", "marketing")
	folded, err := b.cs.ReachableByFold(b.ctx, []uuid.UUID{s}, "email", "marketing")
	if err != nil {
		t.Fatal(err)
	}
	if kept.Allowed || kept.Reason != consent.ReasonWithdrawn || folded[0].Reason != kept.Reason {
		t.Fatalf("kept state answers %+v, the events %+v; want withdrawn both", kept, folded[0])
	}
}

// TestRefreshStatesFillsUnknownStates checks that contacts whose state is not known (as after
// the migration that added it) are answered from their events and get their state from
// RefreshStates, which also corrects a stale state.
func TestRefreshStatesFillsUnknownStates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a, c := b.newContact(t, "a"), b.newContact(t, "c")
	b.record(t, a, grant("email", "marketing", time.Now().Add(-time.Hour)))
	b.record(t, c, withdraw("email", "marketing", time.Now().Add(-time.Hour)))
	b.merge(t, a, c)
	b.exec(t, `UPDATE contacts SET consent_state = NULL WHERE id = $1`, a)
	if got := b.reach(t, a, "email", "marketing"); got.Allowed || got.Reason != consent.ReasonWithdrawn {
		t.Fatalf("a survivor whose state is not known: %+v, want withdrawn (its merged contact's)", got)
	}
	n, err := b.cs.RefreshStates(b.ctx)
	if err != nil || n != 1 {
		t.Fatalf("refreshed %d, %v; want 1", n, err)
	}
	if got := states(t, b)[a]; got != `{"email/marketing": 2}` {
		t.Fatalf("state of a: %s", got)
	}
	if got := b.reach(t, a, "email", "marketing"); got.Allowed || got.Reason != consent.ReasonWithdrawn {
		t.Fatalf("after the refresh: %+v, want withdrawn", got)
	}
	// A state a process of an older version left behind (it recorded the withdrawal without
	// the state): the next pass corrects it, and a pass with nothing to correct writes nothing.
	d := b.newContact(t, "d")
	b.record(t, d, withdraw("sms", "service", time.Now()))
	b.exec(t, `UPDATE contacts SET consent_state = '{}' WHERE id = $1`, d)
	if n, err := b.cs.RefreshStates(b.ctx); err != nil || n != 1 {
		t.Fatalf("refreshed %d, %v; want the stale one", n, err)
	}
	if got := states(t, b)[d]; got != `{"sms/service": 2}` {
		t.Fatalf("state of d: %s", got)
	}
	if n, err := b.cs.RefreshStates(b.ctx); err != nil || n != 0 {
		t.Fatalf("refreshed %d, %v; want none", n, err)
	}
}

// states reads the consent state of every contact not merged away, as text ("" when not known).
func states(t *testing.T, b bundle) map[uuid.UUID]string {
	t.Helper()
	rows, err := b.pool.Query(b.ctx, `SELECT id, coalesce(consent_state::text, '') FROM contacts WHERE merged_into IS NULL`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[uuid.UUID]string{}
	for rows.Next() {
		var id uuid.UUID
		var s string
		if err := rows.Scan(&id, &s); err != nil {
			t.Fatal(err)
		}
		out[id] = s
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestConsentStateThroughMergeUndoErase follows one person's kept state through a merge, its
// undo and an erasure, each of which reaches consent only through its contact.Owned concern
// (Events): the survivor takes the merged contact's withdrawal, the undo gives each contact its
// own state back, and the erased person keeps none.
func TestConsentStateThroughMergeUndoErase(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s, x := b.newContact(t, "s"), b.newContact(t, "x")
	b.record(t, s, grant("email", "marketing", time.Now().Add(-2*time.Hour)))
	b.record(t, x, withdraw("email", "marketing", time.Now().Add(-time.Hour)))
	want := func(step string, id uuid.UUID, state string) {
		t.Helper()
		if got := states(t, b)[id]; got != state {
			t.Fatalf("%s: state of %s is %q, want %q", step, id, got, state)
		}
	}
	granted := `{"email/marketing": 5}` // granted, on a basis marketing accepts
	want("before", s, granted)
	m := b.merge(t, s, x)
	want("merged", s, `{"email/marketing": 2}`)
	b.undo(t, m)
	want("undone", s, granted)
	want("undone", x, `{"email/marketing": 2}`)
	b.merge(t, s, x)
	if err := b.app.Erasure.Erase(b.ctx, []uuid.UUID{s}, "test"); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := b.pool.QueryRow(b.ctx, `SELECT count(*) FROM contacts WHERE id = ANY($1) AND consent_state <> '{}'`,
		[]uuid.UUID{s, x}).Scan(&left); err != nil || left != 0 {
		t.Fatalf("after erasure %d contacts keep a consent state (%v)", left, err)
	}
}
