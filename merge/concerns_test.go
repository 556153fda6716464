package merge_test

import (
	"testing"
	"time"

	"github.com/contactd/contactd/communication"
	"github.com/contactd/contactd/consent"
	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/merge"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// TestEveryConcernThroughTheExtensionPoint: the data other packages keep about a contact — tags,
// group membership, consent events, communications — goes through a merge, its undo and an
// erasure by the concerns registered in app.New alone (nothing in the merge code names them).
func TestEveryConcernThroughTheExtensionPoint(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ids := mergeFixture(t, b,
		contact.NewContact{FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com"},
		contact.NewContact{FirstName: "Ada", LastName: "Lovelace", Email: "ada@engines.example"})
	a, other := ids[0], ids[1]
	if _, err := b.App.Tags.Add(b.Ctx, a, []string{"lead"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.App.Tags.Add(b.Ctx, other, []string{"vip"}); err != nil {
		t.Fatal(err)
	}
	g, err := b.App.Groups.Create(b.Ctx, "friends", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.App.Groups.AddMembers(b.Ctx, g.ID, []uuid.UUID{other}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.App.Consent.RecordEvent(b.Ctx, other, consent.NewEvent{Channel: "email", Purpose: "marketing",
		Status: "withdrawn", LawfulBasis: "consent", Source: "api"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.App.Communications.Record(b.Ctx, other, communication.NewCommunication{Channel: "email",
		Direction: "outbound", Subject: "hello", OccurredAt: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	rows := func(id uuid.UUID) map[string]int {
		return map[string]int{
			"tags":           b.Count(t, `SELECT count(*) FROM contact_tags WHERE contact_id = $1`, id),
			"groups":         b.Count(t, `SELECT count(*) FROM group_members WHERE contact_id = $1`, id),
			"consents":       b.Count(t, `SELECT count(*) FROM consent_events WHERE contact_id = $1`, id),
			"communications": b.Count(t, `SELECT count(*) FROM communications WHERE contact_id = $1`, id),
		}
	}
	want := func(id uuid.UUID, w map[string]int, when string) {
		t.Helper()
		got := rows(id)
		for k, n := range w {
			if got[k] != n {
				t.Errorf("%s: %s of %s = %d, want %d", when, k, id, got[k], n)
			}
		}
	}
	before := map[uuid.UUID]map[string]int{a: rows(a), other: rows(other)}

	m, _, err := b.App.Merges.MergeContacts(b.Ctx, merge.Request{ContactIDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	// The survivor takes tags, membership and communications (moved off the merged contact);
	// consent events stay with the person who gave them (the survivor's consent folds them in).
	want(a, map[string]int{"tags": 2, "groups": 1, "communications": 1, "consents": 0}, "after the merge")
	want(other, map[string]int{"tags": 0, "groups": 0, "communications": 0, "consents": 1}, "after the merge")
	if r, err := b.App.Consent.Reachable(b.Ctx, a, "email", "marketing"); err != nil || r.Allowed {
		t.Errorf("the survivor of a withdrawn record is reachable: %+v %v", r, err)
	}

	if _, _, err := b.App.Merges.UndoMerge(b.Ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	want(a, before[a], "after the undo")
	want(other, before[other], "after the undo")

	// Erasure reaches every concern's rows through the same registration.
	err = b.App.DB.InTx(b.Ctx, func(tx pgx.Tx) error {
		for _, o := range b.App.Owned {
			if err := o.EraseTx(b.Ctx, tx, []uuid.UUID{other}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want(other, map[string]int{"tags": 0, "groups": 0, "consents": 0, "communications": 0}, "after erasure")
	want(a, before[a], "after the other's erasure")
}
