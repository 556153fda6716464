package merge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/merge"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// notes is a throwaway concern for the extension-point tests: rows that follow their contact.
var notes = contact.MovedRows{Concern: "notes", Table: "test_notes", Column: "contact_id", Key: []string{"id"}}

// tally is a throwaway concern with state of its own: it counts, per merge, how many contacts
// went into the survivor (table test_tally), and an undo takes the count back using only the
// state its merge returned.
type tally struct{}

func (tally) Name() string { return "tally" }

func (tally) SnapshotSQL(v contact.SnapshotVars) string {
	return `(SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.contact_id), '[]') FROM test_tally t WHERE t.contact_id = ANY(` + v.All + `))`
}

func (tally) MergeTx(ctx context.Context, tx pgx.Tx, ms []*contact.MergeSet) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, len(ms))
	for i, m := range ms {
		if _, err := tx.Exec(ctx, `INSERT INTO test_tally (contact_id, n) VALUES ($1, $2)
			ON CONFLICT (contact_id) DO UPDATE SET n = test_tally.n + EXCLUDED.n`, m.SurvivorID, len(m.Merged)); err != nil {
			return nil, err
		}
		out[i], _ = json.Marshal(map[string]any{"survivor": m.SurvivorID, "added": len(m.Merged)})
	}
	return out, nil
}

func (tally) UndoTx(ctx context.Context, tx pgx.Tx, u *contact.UndoSet) ([]string, error) {
	var st struct {
		Survivor uuid.UUID `json:"survivor"`
		Added    int       `json:"added"`
	}
	if err := json.Unmarshal(u.State, &st); err != nil {
		return nil, fmt.Errorf("tally state %q: %w", u.State, err)
	}
	if st.Survivor != u.SurvivorID {
		return nil, fmt.Errorf("tally state names %s, the undo %s", st.Survivor, u.SurvivorID)
	}
	_, err := tx.Exec(ctx, `UPDATE test_tally SET n = n - $2 WHERE contact_id = $1`, st.Survivor, st.Added)
	return nil, err
}

func (tally) EraseTx(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) error {
	_, err := tx.Exec(ctx, `DELETE FROM test_tally WHERE contact_id = ANY($1)`, ids)
	return err
}

// setupOwned registers the throwaway concerns and makes their tables.
func setupOwned(t *testing.T) bundle {
	t.Helper()
	b := setup(t, notes, tally{})
	if _, err := b.Pool.Exec(b.Ctx, `
		CREATE TABLE test_notes (id uuid PRIMARY KEY, contact_id uuid NOT NULL REFERENCES contacts (id), body text NOT NULL);
		CREATE TABLE test_tally (contact_id uuid PRIMARY KEY REFERENCES contacts (id), n int NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return b
}

func addNote(t *testing.T, b bundle, contactID uuid.UUID, body string) uuid.UUID {
	t.Helper()
	id := uuid.Must(uuid.NewV7())
	if _, err := b.Pool.Exec(b.Ctx, `INSERT INTO test_notes (id, contact_id, body) VALUES ($1, $2, $3)`, id, contactID, body); err != nil {
		t.Fatal(err)
	}
	return id
}

// notesOf lists a contact's note bodies, sorted.
func notesOf(t *testing.T, b bundle, contactID uuid.UUID) string {
	t.Helper()
	var s string
	if err := b.Pool.QueryRow(b.Ctx, `SELECT coalesce(string_agg(body, ',' ORDER BY body), '') FROM test_notes WHERE contact_id = $1`,
		contactID).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestOwnedConcernRoundTrips is the extension point's contract: a concern registered once
// (here two throwaway ones, with no edit to the merge code) has its rows moved by a merge, kept
// in the merge's snapshot, and restored by the undo, its own state handed back to it; rows
// changed since the merge are reported, not clobbered.
func TestOwnedConcernRoundTrips(t *testing.T) {
	t.Parallel()
	b := setupOwned(t)
	ids := mergeFixture(t, b,
		contact.NewContact{FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com"},
		contact.NewContact{FirstName: "Ada", LastName: "Lovelace", Email: "ada@engines.example"},
		contact.NewContact{FirstName: "A.", LastName: "Lovelace", Phone: "+1 415 555 0100"})
	addNote(t, b, ids[0], "a1")
	addNote(t, b, ids[1], "b1")
	gone := addNote(t, b, ids[1], "b2")
	addNote(t, b, ids[2], "c1")

	m, _, err := b.App.Merges.MergeContacts(b.Ctx, merge.Request{ContactIDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	if got := notesOf(t, b, ids[0]); got != "a1,b1,b2,c1" {
		t.Fatalf("survivor's notes after the merge: %q", got)
	}
	if n := b.Count(t, `SELECT n FROM test_tally WHERE contact_id = $1`, ids[0]); n != 2 {
		t.Fatalf("tally after the merge: %d", n)
	}
	var snap struct {
		Notes []struct {
			ContactID uuid.UUID `json:"contact_id"`
			Body      string    `json:"body"`
		} `json:"notes"`
		State map[string]json.RawMessage `json:"state"`
	}
	var raw []byte
	if err := b.Pool.QueryRow(b.Ctx, `SELECT snapshot FROM merges WHERE id = $1`, m.ID).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &snap); err != nil {
		t.Fatal(err)
	}
	if len(snap.Notes) != 4 || snap.State["tally"] == nil {
		t.Fatalf("snapshot notes %+v, state %s", snap.Notes, raw)
	}

	// Since the merge: one moved note is deleted, the survivor gets a new one.
	if _, err := b.Pool.Exec(b.Ctx, `DELETE FROM test_notes WHERE id = $1`, gone); err != nil {
		t.Fatal(err)
	}
	addNote(t, b, ids[0], "a2")
	_, report, err := b.App.Merges.UndoMerge(b.Ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[uuid.UUID]string{ids[0]: "a1,a2", ids[1]: "b1", ids[2]: "c1"} {
		if got := notesOf(t, b, id); got != want {
			t.Errorf("notes of %s after the undo: %q, want %q", id, got, want)
		}
	}
	if len(report) != 1 || !strings.Contains(report[0], "notes") || !strings.Contains(report[0], gone.String()) {
		t.Errorf("undo report %q, want one line about the deleted note", report)
	}
	if n := b.Count(t, `SELECT n FROM test_tally WHERE contact_id = $1`, ids[0]); n != 0 {
		t.Errorf("tally after the undo: %d", n)
	}
}

// TestOwnedConcernInBulkMerges: the bulk merge (scans, import batches) carries a registered
// concern through the same hook, for every cluster of a chunk at once.
func TestOwnedConcernInBulkMerges(t *testing.T) {
	t.Parallel()
	b := setupOwned(t)
	var reqs []merge.Request
	var all [][]uuid.UUID
	for i := range 3 {
		ids := mergeFixture(t, b,
			contact.NewContact{FirstName: "P", LastName: fmt.Sprint(i), Email: fmt.Sprintf("p%d@a.example", i)},
			contact.NewContact{FirstName: "P", LastName: fmt.Sprint(i), Email: fmt.Sprintf("p%d@b.example", i)})
		addNote(t, b, ids[1], fmt.Sprintf("n%d", i))
		reqs = append(reqs, merge.Request{ContactIDs: ids})
		all = append(all, ids)
	}
	merges, failed, err := b.App.Merges.MergeClusters(b.Ctx, reqs)
	if err != nil || len(failed) > 0 || len(merges) != 3 {
		t.Fatalf("merges %d, failed %v, err %v", len(merges), failed, err)
	}
	for i, ids := range all {
		if got := notesOf(t, b, ids[0]); got != fmt.Sprintf("n%d", i) {
			t.Errorf("cluster %d: survivor's notes %q", i, got)
		}
		if n := b.Count(t, `SELECT n FROM test_tally WHERE contact_id = $1`, ids[0]); n != 1 {
			t.Errorf("cluster %d: tally %d", i, n)
		}
	}
	if _, _, err := b.App.Merges.UndoMerge(b.Ctx, merges[1].ID); err != nil {
		t.Fatal(err)
	}
	if got := notesOf(t, b, all[1][1]); got != "n1" {
		t.Errorf("undone cluster's note: %q", got)
	}
}

// TestOwnedErase: erasure reaches a concern's rows through the same registration.
func TestOwnedErase(t *testing.T) {
	t.Parallel()
	b := setupOwned(t)
	ids := mergeFixture(t, b, contact.NewContact{FirstName: "Eve"}, contact.NewContact{FirstName: "Mallory"})
	addNote(t, b, ids[0], "secret")
	addNote(t, b, ids[1], "kept")
	err := b.App.DB.InTx(b.Ctx, func(tx pgx.Tx) error {
		for _, o := range b.App.Owned {
			if err := o.EraseTx(b.Ctx, tx, ids[:1]); err != nil {
				return fmt.Errorf("%s: %w", o.Name(), err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if notesOf(t, b, ids[0]) != "" || notesOf(t, b, ids[1]) != "kept" {
		t.Errorf("erase left %q and %q", notesOf(t, b, ids[0]), notesOf(t, b, ids[1]))
	}
}

// TestUndoOfAnOlderSnapshot: a merge made before concerns kept state in the snapshot (the
// relationship changes under "changes", no "state") is still undone exactly.
func TestUndoOfAnOlderSnapshot(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := newRelFixture(t, b)
	maxAudit := maxAuditID(t, b)
	before := stateOf(t, b, maxAudit)
	m, _, err := b.App.Merges.MergeContacts(b.Ctx, merge.Request{ContactIDs: f.ids})
	if err != nil {
		t.Fatal(err)
	}
	// Rewrite the snapshot in the old shape.
	tag, err := b.Pool.Exec(b.Ctx, `UPDATE merges SET snapshot = (snapshot - 'state' - 'relationships') || jsonb_build_object(
			'changes', snapshot->'state'->'relationships',
			'contactUsers', snapshot->'relationships'->'users',
			'contactAccounts', snapshot->'relationships'->'accounts')
		WHERE id = $1 AND snapshot->'state'->'relationships' IS NOT NULL`, m.ID)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("rewrite snapshot: %v (%d rows)", err, tag.RowsAffected())
	}
	if _, report, err := b.App.Merges.UndoMerge(b.Ctx, m.ID); err != nil || len(report) != 0 {
		t.Fatalf("undo: %q %v", report, err)
	}
	if after := stateOf(t, b, maxAudit); after != before {
		t.Errorf("undo of an older snapshot did not restore the state:\nbefore %s\nafter  %s", before, after)
	}
}
