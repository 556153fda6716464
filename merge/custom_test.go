package merge_test

import (
	"errors"
	"testing"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/merge"
	"github.com/google/uuid"
)

// TestMergeCustomFieldsBySurvivorship: the survivor keeps its custom values and takes the
// ones it lacks from the most recently updated merged contact; the merge audits them and an
// undo gives every contact its own values back.
func TestMergeCustomFieldsBySurvivorship(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, d := range []contact.CustomField{{Key: "industry", Type: contact.CustomText}, {Key: "employees", Type: contact.CustomNumber}} {
		if _, err := b.App.Contacts.CreateCustomField(b.Ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	ids := mergeFixture(t, b,
		contact.NewContact{FirstName: "Ada", Custom: contact.CustomInput{"industry": "Software"}},
		contact.NewContact{FirstName: "Ada", Custom: contact.CustomInput{"industry": "Retail", "employees": 5.0}},
		contact.NewContact{FirstName: "Ada", Custom: contact.CustomInput{"employees": 9.0}},
	)
	touch(t, b, ids[1], time.Hour)
	touch(t, b, ids[2], time.Minute)
	m, _, err := b.App.Merges.MergeContacts(b.Ctx, merge.Request{ContactIDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	got := get(t, b, ids[0]).Custom
	if got["industry"] != "Software" || got["employees"] != 9.0 {
		t.Errorf("survivor's custom values %v, want industry Software (its own) and employees 9 (the most recent)", got)
	}
	if n := b.Count(t, `SELECT count(*) FROM audit_log WHERE action = 'merge' AND contact_id = $1 AND changes ? 'customFields.employees'`, ids[0]); n != 1 {
		t.Errorf("%d merge audit entries with customFields.employees, want 1", n)
	}
	if _, report, err := b.App.Merges.UndoMerge(b.Ctx, m.ID); err != nil || len(report) != 0 {
		t.Fatalf("undo: %v %v", report, err)
	}
	if got := get(t, b, ids[0]).Custom; len(got) != 1 || got["industry"] != "Software" {
		t.Errorf("after undo the survivor has %v", got)
	}
	if got := get(t, b, ids[1]).Custom; got["industry"] != "Retail" || got["employees"] != 5.0 {
		t.Errorf("after undo a merged contact has %v", got)
	}
}

// TestUndoMergeRefusesAUniqueValueTakenSince: a merged contact's value of a unique custom
// field went to the survivor; the survivor changed it and another contact took the value; the
// undo would give it back to the merged contact, a second active holder, so it is refused,
// naming the field, and changes nothing.
func TestUndoMergeRefusesAUniqueValueTakenSince(t *testing.T) {
	t.Parallel()
	b, ids, m := mergeUniqueBadge(t)
	if _, err := b.App.Contacts.UpdateContact(b.Ctx, ids[0], contact.Update{Custom: contact.CustomInput{"badge": "B-2"}}); err != nil {
		t.Fatal(err)
	}
	other, err := b.App.Contacts.CreateContact(b.Ctx, contact.NewContact{FirstName: "Grace", Custom: contact.CustomInput{"badge": "B-1"}})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = b.App.Merges.UndoMerge(b.Ctx, m.ID)
	var e *db.Error
	if !errors.As(err, &e) || e.Kind != db.KindConflict || len(e.Fields) != 1 || e.Fields[0].Field != "customFields.badge" ||
		e.ExistingID != other.ID.String() {
		t.Fatalf("undo: %v, want a conflict naming customFields.badge and %s", err, other.ID)
	}
	if c := get(t, b, ids[1]); c.Status != contact.StatusMerged {
		t.Errorf("after the refused undo the merged contact is %s", c.Status)
	}
	if n := b.Count(t, `SELECT count(*) FROM contacts WHERE status = 'active' AND custom_fields @> '{"badge": "B-1"}'`); n != 1 {
		t.Errorf("%d active contacts have badge B-1, want 1", n)
	}
	// Once the other contact lets the value go, the undo goes through and gives it back.
	if _, err := b.App.Contacts.UpdateContact(b.Ctx, other.ID, contact.Update{Custom: contact.CustomInput{"badge": nil}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.App.Merges.UndoMerge(b.Ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	if got := get(t, b, ids[1]).Custom["badge"]; got != "B-1" {
		t.Errorf("after the undo the merged contact's badge is %v, want B-1", got)
	}
}

// TestUndoMergeGivesAUniqueValueBack: the survivor took a merged contact's value of a unique
// custom field and nothing changed since: the undo gives it back to the merged contact (the
// survivor's own restore hands it over first), and the survivor has none again.
func TestUndoMergeGivesAUniqueValueBack(t *testing.T) {
	t.Parallel()
	b, ids, m := mergeUniqueBadge(t)
	if _, report, err := b.App.Merges.UndoMerge(b.Ctx, m.ID); err != nil || len(report) != 0 {
		t.Fatalf("undo right after the merge: %v %v", report, err)
	}
	if got := get(t, b, ids[0]).Custom["badge"]; got != nil {
		t.Errorf("after undo the survivor's badge is %v, want none", got)
	}
	if got := get(t, b, ids[1]).Custom["badge"]; got != "B-1" {
		t.Errorf("after undo the merged contact's badge is %v, want B-1", got)
	}
}

// mergeUniqueBadge defines a unique custom field, badge, and merges a contact without one with a
// contact whose badge is B-1 (the first survives and takes it); it returns the merge.
func mergeUniqueBadge(t *testing.T) (bundle, []uuid.UUID, *merge.Merge) {
	t.Helper()
	b := setup(t)
	if _, err := b.App.Contacts.CreateCustomField(b.Ctx, contact.CustomField{Key: "badge", Type: contact.CustomText, Unique: true}); err != nil {
		t.Fatal(err)
	}
	ids := mergeFixture(t, b,
		contact.NewContact{FirstName: "Ada"},
		contact.NewContact{FirstName: "Ada", Custom: contact.CustomInput{"badge": "B-1"}},
	)
	m, _, err := b.App.Merges.MergeContacts(b.Ctx, merge.Request{ContactIDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	if got := get(t, b, ids[0]).Custom["badge"]; got != "B-1" {
		t.Fatalf("survivor's badge %v, want B-1", got)
	}
	return b, ids, m
}
