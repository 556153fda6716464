package relationship_test

import (
	"sync"
	"testing"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/apptest"
)

func TestPrimaryContactMovesBetweenContacts(t *testing.T) {
	t.Parallel()
	b := apptest.New(t)
	acct, err := b.App.Relations.CreateAccount(b.Ctx, "Acme", "acme.com")
	if err != nil {
		t.Fatal(err)
	}
	rel := func() []contact.NewRelationship {
		return []contact.NewRelationship{{EntityType: "account", EntityID: acct.ID.String(), Role: "buyer", IsPrimary: true}}
	}
	a, err := b.App.Contacts.CreateContact(b.Ctx, contact.NewContact{FirstName: "A", Relationships: rel()})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := b.App.Contacts.CreateContact(b.Ctx, contact.NewContact{FirstName: "B", Relationships: rel()})
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.App.Contacts.GetContact(b.Ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Relationships) != 1 || got.Relationships[0].IsPrimary {
		t.Fatalf("first contact's relationship = %+v, want no longer primary", got.Relationships)
	}
	if n := b.Count(t, `SELECT count(*) FROM contact_accounts WHERE is_primary AND removed_at IS NULL`); n != 1 {
		t.Fatalf("%d primaries", n)
	}
	// Racing primaries serialize on the account row: exactly one ends primary.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			c, err := b.App.Contacts.CreateContact(b.Ctx, contact.NewContact{FirstName: "R"})
			if err == nil {
				_, err = b.App.Relations.AddRelationship(b.Ctx, c.ID, rel()[0])
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := b.Count(t, `SELECT count(*) FROM contact_accounts WHERE is_primary AND removed_at IS NULL`); n != 1 {
		t.Fatalf("%d primaries after racing", n)
	}
	if got, err := b.App.Contacts.GetContact(b.Ctx, c2.ID); err != nil || len(got.Relationships) != 1 {
		t.Fatalf("second contact's relationships %+v %v", got, err)
	}
}
