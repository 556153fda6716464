package contact_test

import (
	"testing"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
)

func TestCustomFieldUniqueStore(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if _, err := b.store.CreateCustomField(b.Ctx, contact.CustomField{Key: "no", Type: contact.CustomText, Unique: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.CreateContact(b.Ctx, contact.NewContact{FirstName: "A", Custom: contact.CustomInput{"no": "1"}}); err != nil {
		t.Fatal(err)
	}
	_, err := b.store.CreateContact(b.Ctx, contact.NewContact{FirstName: "B", Custom: contact.CustomInput{"no": "1"}})
	if db.ErrorKind(err) != db.KindConflict {
		t.Fatalf("second writer of a unique value: %v, want a conflict", err)
	}
}

// TestCustomEmailsAndPhonesAreAlternates: the matcher sees the values of email and phone custom
// fields as alternates (blocking keys and comparisons); other types are not.
func TestCustomEmailsAndPhonesAreAlternates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, d := range []contact.CustomField{{Key: "billing", Type: contact.CustomEmail}, {Key: "mobile", Type: contact.CustomPhone},
		{Key: "notes", Type: contact.CustomText}} {
		if _, err := b.store.CreateCustomField(b.Ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	c, err := b.store.CreateContact(b.Ctx, contact.NewContact{FirstName: "A",
		Custom: contact.CustomInput{"billing": "Pay@Example.com", "mobile": "+1 415 555 0100", "notes": "x@y.z"}})
	if err != nil {
		t.Fatal(err)
	}
	alts, err := contact.AlternatesOf(b.Ctx, b.Pool, []uuid.UUID{c.ID})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, a := range alts[c.ID] {
		got[a.Kind] = a.Value
	}
	if len(got) != 2 || got["email"] != "pay@example.com" || got["phone"] != "+1 415 555 0100" {
		t.Errorf("alternates %v", alts[c.ID])
	}
}
