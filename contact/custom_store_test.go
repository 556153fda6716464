package contact_test

import (
	"testing"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"
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
