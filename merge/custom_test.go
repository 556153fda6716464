package merge_test

import (
	"testing"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/merge"
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
