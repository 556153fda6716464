package merge_test

import (
	"testing"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/merge"
	"github.com/google/uuid"
)

// TestMergeAddressAsAWhole: the postal address is merged as one unit. A survivor with any part
// of an address keeps its own (a street is never added from another record); one without takes
// the most recently updated contact's whole address; fieldValues naming a contact for one part
// takes the whole address from it, unless another part names another contact. Undo restores
// each contact's own address.
func TestMergeAddressAsAWhole(t *testing.T) {
	t.Parallel()
	home := contact.NewContact{Street: "1 Elm St", City: "Springfield", Region: "IL", PostalCode: "62701", Country: "US"}
	work := contact.NewContact{Street: "2101 NASA Pkwy", City: "Houston", Region: "TX", PostalCode: "77058"}
	cityOnly := contact.NewContact{City: "Boston"}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	addr := func(c *contact.Contact) [5]string {
		return [5]string{str(c.Street), str(c.City), str(c.Region), str(c.PostalCode), str(c.Country)}
	}
	want := func(n contact.NewContact) [5]string {
		return [5]string{n.Street, n.City, n.Region, n.PostalCode, n.Country}
	}
	for _, tc := range []struct {
		name        string
		addrs       [3]contact.NewContact // oldest (the default survivor) first; the last is the most recent
		fieldValues map[string]int
		want        [5]string
	}{
		{"survivor without one takes the most recent whole address", [3]contact.NewContact{{}, home, work}, nil, want(work)},
		{"the most recent with an address, not the most recent", [3]contact.NewContact{{}, work, {}}, nil, want(work)},
		{"survivor with a city keeps its own, gets no street", [3]contact.NewContact{cityOnly, home, work}, nil, want(cityOnly)},
		{"fieldValues on one part takes the whole address", [3]contact.NewContact{cityOnly, home, work},
			map[string]int{"postalCode": 1}, want(home)},
		{"fieldValues on two parts", [3]contact.NewContact{cityOnly, home, work}, map[string]int{"street": 1, "city": 2},
			[5]string{"1 Elm St", "Houston", "IL", "62701", "US"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			var in [3]contact.NewContact
			for i, a := range tc.addrs {
				in[i] = a
				in[i].FirstName = "Ann"
			}
			ids := mergeFixture(t, b, in[0], in[1], in[2])
			touch(t, b, ids[0], 3*time.Hour)
			touch(t, b, ids[1], 2*time.Hour)
			touch(t, b, ids[2], time.Hour)
			req := merge.Request{ContactIDs: ids}
			if tc.fieldValues != nil {
				req.FieldValues = map[string]uuid.UUID{}
				for f, i := range tc.fieldValues {
					req.FieldValues[f] = ids[i]
				}
			}
			m, got, err := b.App.Merges.MergeContacts(b.Ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if addr(got) != tc.want {
				t.Errorf("survivor's address %q, want %q", addr(got), tc.want)
			}
			if _, _, err := b.App.Merges.UndoMerge(b.Ctx, m.ID); err != nil {
				t.Fatal(err)
			}
			for i, id := range ids {
				if c := get(t, b, id); addr(c) != want(tc.addrs[i]) {
					t.Errorf("after undo, contact %d's address %q, want %q", i, addr(c), want(tc.addrs[i]))
				}
			}
		})
	}
}

// TestUndoKeepsAChangedAddressWhole: the merge gave the survivor an address and the street was
// changed since; the undo keeps the whole address as it is now (with a line for each part kept)
// instead of restoring the city and the rest under the new street.
func TestUndoKeepsAChangedAddressWhole(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ids := mergeFixture(t, b,
		contact.NewContact{FirstName: "Ann"},
		contact.NewContact{FirstName: "Ann", Street: "2101 NASA Pkwy", City: "Houston", Region: "TX", PostalCode: "77058"},
	)
	m, _, err := b.App.Merges.MergeContacts(b.Ctx, merge.Request{ContactIDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	street := "2102 NASA Pkwy"
	if _, err := b.App.Contacts.UpdateContact(b.Ctx, ids[0], contact.Update{Street: contact.Opt[string]{Set: true, Value: street}}); err != nil {
		t.Fatal(err)
	}
	_, report, err := b.App.Merges.UndoMerge(b.Ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := get(t, b, ids[0])
	if got.Street == nil || *got.Street != street || got.City == nil || *got.City != "Houston" || got.PostalCode == nil || *got.PostalCode != "77058" {
		t.Errorf("survivor's address after undo: %v %v %v, want the current one whole", got.Street, got.City, got.PostalCode)
	}
	if len(report) != 4 {
		t.Errorf("report %q, want a line for the street and for each part kept with it", report)
	}
}
