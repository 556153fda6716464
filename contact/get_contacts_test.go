package contact_test

import (
	"reflect"
	"testing"

	"github.com/contactd/contactd/contact"
	"github.com/google/uuid"
)

// TestGetContactsReadsAsGetContact: contacts read together are the contacts GetContact reads
// one by one (relationships, and for merged ones the end of their chain of merges), in id
// order, without the ids of no contact.
func TestGetContactsReadsAsGetContact(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acct, err := b.App.Relations.CreateAccount(b.Ctx, "Acme", "acme.com")
	if err != nil {
		t.Fatal(err)
	}
	var ids []uuid.UUID
	for _, name := range []string{"Survivor", "Middle", "First", "Other"} {
		in := contact.NewContact{FirstName: name}
		if name == "Survivor" {
			in.Relationships = []contact.NewRelationship{{EntityType: "account", EntityID: acct.ID.String(), Role: "buyer"}}
		}
		c, err := b.store.CreateContact(b.Ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	// First was merged into Middle, and Middle into Survivor.
	if _, err := b.Pool.Exec(b.Ctx, `UPDATE contacts SET status = 'merged', merged_into = $2 WHERE id = $1`, ids[1], ids[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Pool.Exec(b.Ctx, `UPDATE contacts SET status = 'merged', merged_into = $2 WHERE id = $1`, ids[2], ids[1]); err != nil {
		t.Fatal(err)
	}
	unknown := uuid.Must(uuid.NewV7())
	got, err := b.store.GetContacts(b.Ctx, []uuid.UUID{ids[3], unknown, ids[2], ids[1], ids[0], ids[2]})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("%d contacts, want the 4 that exist", len(got))
	}
	for i, c := range got {
		if c.ID != ids[i] {
			t.Errorf("contact %d is %s, want %s (id order)", i, c.ID, ids[i])
		}
		one, err := b.store.GetContact(b.Ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(c, one) {
			t.Errorf("GetContacts read %+v, GetContact %+v", c, one)
		}
	}
	if got[2].MergedInto == nil || *got[2].MergedInto != ids[0] || len(got[0].Relationships) != 1 {
		t.Errorf("first merged into %v (want %s), survivor's relationships %+v", got[2].MergedInto, ids[0], got[0].Relationships)
	}
	if none, err := b.store.GetContacts(b.Ctx, nil); err != nil || len(none) != 0 {
		t.Errorf("no ids: %v %v", none, err)
	}
}
