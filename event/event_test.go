package event_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/event"
	"github.com/contactd/contactd/internal/apptest"
	"github.com/contactd/contactd/merge"
	"github.com/google/uuid"
)

// changes reads the whole feed.
func changes(t *testing.T, b apptest.Bundle) []event.Event {
	t.Helper()
	evs, _, err := event.NewFeed(b.App.DB).Changes(b.Ctx, 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestAuditedChangesAreEvents proves that each audited change of a contact and its
// relationships is its event, in the order the changes happened, with the payload the API
// documents.
func TestAuditedChangesAreEvents(t *testing.T) {
	t.Parallel()
	b := apptest.New(t)
	acct, err := b.App.Relations.CreateAccount(b.Ctx, "Acme", "acme.com")
	if err != nil {
		t.Fatal(err)
	}
	c, err := b.App.Contacts.CreateContact(b.Ctx, contact.NewContact{FirstName: "Ada", Email: "ada@example.com",
		Relationships: []contact.NewRelationship{{EntityType: "account", EntityID: acct.ID.String(), Role: "owner"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.App.Contacts.UpdateContact(b.Ctx, c.ID, contact.Update{Title: contact.Some("CTO")}); err != nil {
		t.Fatal(err)
	}
	d, err := b.App.Contacts.CreateContact(b.Ctx, contact.NewContact{FirstName: "Ada", LastName: "L"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := b.App.Merges.Merge(b.Ctx, merge.Request{ContactIDs: []uuid.UUID{c.ID, d.ID}, SurvivorID: &c.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.App.Merges.UndoMerge(b.Ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	if err := b.App.Contacts.ArchiveContact(b.Ctx, d.ID); err != nil {
		t.Fatal(err)
	}

	evs := changes(t, b)
	var types []string
	for i, e := range evs {
		if e.Seq != int64(i+1) {
			t.Errorf("event %d has seq %d", i, e.Seq)
		}
		types = append(types, e.Type)
	}
	want := []string{event.ContactCreated, event.RelationshipAdded, event.ContactUpdated, event.ContactCreated,
		event.ContactMerged, event.ContactUnmerged, event.ContactArchived}
	if !slices.Equal(types, want) {
		t.Fatalf("types %v, want %v", types, want)
	}
	var created struct {
		ContactID uuid.UUID         `json:"contactId"`
		Fields    map[string]string `json:"fields"`
	}
	if err := json.Unmarshal(evs[0].Data, &created); err != nil || created.ContactID != c.ID || created.Fields["email"] != "ada@example.com" {
		t.Errorf("contact.created data %s (%v)", evs[0].Data, err)
	}
	var updated struct {
		Changes map[string]contact.Change `json:"changes"`
	}
	if err := json.Unmarshal(evs[2].Data, &updated); err != nil || updated.Changes["title"].After != "CTO" || updated.Changes["title"].Before != nil {
		t.Errorf("contact.updated data %s (%v)", evs[2].Data, err)
	}
	var merged struct {
		SurvivorID uuid.UUID   `json:"survivorId"`
		MergedIDs  []uuid.UUID `json:"mergedIds"`
	}
	if err := json.Unmarshal(evs[4].Data, &merged); err != nil || merged.SurvivorID != c.ID || !slices.Equal(merged.MergedIDs, []uuid.UUID{d.ID}) {
		t.Errorf("contact.merged data %s (%v)", evs[4].Data, err)
	}
	if evs[6].ContactID == nil || *evs[6].ContactID != d.ID {
		t.Errorf("contact.archived about %v, want %s", evs[6].ContactID, d.ID)
	}
}

// TestErasedEventHasNoPII proves that an erasure's event names the contact and nothing else,
// whatever its audit entry carries.
func TestErasedEventHasNoPII(t *testing.T) {
	t.Parallel()
	b := apptest.New(t)
	id := uuid.Must(uuid.NewV7())
	_, err := b.Pool.Exec(b.Ctx, `INSERT INTO audit_log (actor, action, entity_type, entity_id, contact_id, changes)
		VALUES ('test', 'erase', 'contact', $1, $1, '{"email": {"before": "ada@example.com", "after": null}}')`, id)
	if err != nil {
		t.Fatal(err)
	}
	evs := changes(t, b)
	if len(evs) != 1 || evs[0].Type != event.ContactErased {
		t.Fatalf("events %+v", evs)
	}
	var data map[string]any
	if err := json.Unmarshal(evs[0].Data, &data); err != nil {
		t.Fatal(err)
	}
	if len(data) != 1 || data["contactId"] != id.String() {
		t.Fatalf("erased data %v, want only the contact id", data)
	}
}

// TestErasureScrubsEarlierEvents proves that erasing a contact leaves its earlier events in
// the feed with its id only: nothing it was created or changed with.
func TestErasureScrubsEarlierEvents(t *testing.T) {
	t.Parallel()
	b := apptest.New(t)
	c, err := b.App.Contacts.CreateContact(b.Ctx, contact.NewContact{FirstName: "Ada", Email: "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := b.App.Contacts.CreateContact(b.Ctx, contact.NewContact{FirstName: "Grace", Email: "grace@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.App.Contacts.UpdateContact(b.Ctx, c.ID, contact.Update{Title: contact.Some("CTO")}); err != nil {
		t.Fatal(err)
	}
	tx, err := b.Pool.Begin(b.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := event.Concern.EraseTx(b.Ctx, tx, []uuid.UUID{c.ID}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(b.Ctx); err != nil {
		t.Fatal(err)
	}
	evs := changes(t, b)
	if len(evs) != 3 {
		t.Fatalf("%d events, want 3: erasure keeps them", len(evs))
	}
	for _, e := range evs {
		pii := strings.Contains(string(e.Data), "ada@example.com") || strings.Contains(string(e.Data), "CTO")
		if *e.ContactID == c.ID && (pii || string(e.Data) != `{"contactId": "`+c.ID.String()+`"}`) {
			t.Errorf("an erased contact's %s event holds %s", e.Type, e.Data)
		}
		if *e.ContactID == other.ID && !strings.Contains(string(e.Data), "grace@example.com") {
			t.Errorf("another contact's event lost its data: %s", e.Data)
		}
	}
}

// TestFeedHasNoGapsWhenCommitsAreOutOfOrder commits a later transaction before an earlier one:
// the feed shows the one that committed, and a reader that has read it still gets the other
// once it commits.
func TestFeedHasNoGapsWhenCommitsAreOutOfOrder(t *testing.T) {
	t.Parallel()
	b := apptest.New(t)
	feed := event.NewFeed(b.App.DB)
	first, err := b.Pool.Begin(b.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Rollback(b.Ctx) //nolint:errcheck // a no-op after Commit
	if err := event.Emit(b.Ctx, first, event.ImportFinished, nil, map[string]string{"n": "first"}); err != nil {
		t.Fatal(err)
	}
	second, err := b.Pool.Begin(b.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := event.Emit(b.Ctx, second, event.ImportFinished, nil, map[string]string{"n": "second"}); err != nil {
		t.Fatal(err)
	}
	if err := second.Commit(b.Ctx); err != nil {
		t.Fatal(err)
	}
	evs, cursor, err := feed.Changes(b.Ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || string(evs[0].Data) != `{"n": "second"}` || cursor != 1 {
		t.Fatalf("the committed transaction's event: %+v (cursor %d)", evs, cursor)
	}
	if err := first.Commit(b.Ctx); err != nil {
		t.Fatal(err)
	}
	evs, cursor, err = feed.Changes(b.Ctx, cursor, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || string(evs[0].Data) != `{"n": "first"}` || cursor != 2 {
		t.Fatalf("after the late commit the feed from cursor 1 shows %+v (cursor %d)", evs, cursor)
	}
}
