package erasure_test

import (
	"testing"

	"github.com/contactd/contactd/consent"
	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/apptest"
	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
)

// TestEraseIsIdempotentAndWholePerson: erasing a merged record erases its survivor too, and
// erasing again changes nothing and is no error; an unknown id is not found.
func TestEraseIsIdempotentAndWholePerson(t *testing.T) {
	t.Parallel()
	b := apptest.New(t)
	a, err := b.App.Contacts.CreateContact(b.Ctx, contact.NewContact{FirstName: "Ada", Email: "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := b.App.Contacts.CreateContact(b.Ctx, contact.NewContact{FirstName: "Ada", Email: "ada2@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	keep, err := b.App.Contacts.CreateContact(b.Ctx, contact.NewContact{FirstName: "Bob", Email: "bob@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.App.Merges.MergeContacts(b.Ctx, mergeReq(a.ID, c.ID)); err != nil {
		t.Fatal(err)
	}
	if err := b.App.Erasure.Erase(b.Ctx, []uuid.UUID{c.ID}, "test"); err != nil {
		t.Fatal(err)
	}
	if n := b.Count(t, `SELECT count(*) FROM contacts WHERE status = 'erased' AND first_name IS NULL AND email IS NULL`); n != 2 {
		t.Errorf("%d tombstones, want 2 (the merged record's survivor too)", n)
	}
	if _, err := b.App.Contacts.GetContact(b.Ctx, keep.ID); err != nil {
		t.Errorf("another person: %v", err)
	}
	_, err = b.App.Contacts.GetContact(b.Ctx, a.ID)
	apptest.RequireKind(t, err, db.KindGone)
	if err := b.App.Erasure.Erase(b.Ctx, []uuid.UUID{a.ID, c.ID}, "test"); err != nil {
		t.Errorf("erasing again: %v", err)
	}
	if n := b.Count(t, `SELECT count(*) FROM audit_log WHERE action = 'erase'`); n != 2 {
		t.Errorf("%d erase entries, want 2", n)
	}
	apptest.RequireKind(t, b.App.Erasure.Erase(b.Ctx, []uuid.UUID{uuid.New()}, "test"), db.KindNotFound)

	// Reachability answers an erased person as erased, the merged record and its survivor alike.
	_, err = b.App.Consent.Reachable(b.Ctx, a.ID, "email", "service")
	apptest.RequireKind(t, err, db.KindGone)
	as, err := b.App.Consent.ReachableMany(b.Ctx, []uuid.UUID{a.ID, c.ID, keep.ID}, "email", "service")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{consent.ReasonErased, consent.ReasonErased, ""} {
		if as[i].Reason == consent.ReasonErased != (want == consent.ReasonErased) || (want != "" && as[i].Allowed) {
			t.Errorf("answer %d: %+v, want reason %q", i, as[i], want)
		}
	}
}

// TestEraseCommonFirstName: erasing James Smith scrubs the import error rows that quote his
// whole name or his email, with the first name in their field, and leaves alone the row that
// quotes another James.
func TestEraseCommonFirstName(t *testing.T) {
	t.Parallel()
	b := apptest.New(t)
	james, err := b.App.Contacts.CreateContact(b.Ctx, contact.NewContact{FirstName: "James", LastName: "Smith", Email: "jsmith@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	imp := uuid.New()
	if _, err := b.Pool.Exec(b.Ctx, `INSERT INTO imports (id, source, format, file_sha256, file_size, mode, default_region, actor)
		VALUES ($1, 'crm', 'csv', 'x', 1, 'skip', 'GB', 'test')`, imp); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Pool.Exec(b.Ctx, `INSERT INTO import_errors (import_id, row_index, seq, line, field, message) VALUES
		($1, 1, 0, 2, 'firstName', 'duplicate of James Brown'),
		($1, 2, 0, 3, 'name', 'duplicate of James Smith'),
		($1, 3, 0, 4, 'James', 'email jsmith@example.com is taken')`, imp); err != nil {
		t.Fatal(err)
	}
	if err := b.App.Erasure.Erase(b.Ctx, []uuid.UUID{james.ID}, "test"); err != nil {
		t.Fatal(err)
	}
	if n := b.Count(t, `SELECT count(*) FROM import_errors WHERE row_index = 1 AND field = 'firstName' AND message = 'duplicate of James Brown'`); n != 1 {
		t.Error("the row quoting another James was scrubbed")
	}
	if n := b.Count(t, `SELECT count(*) FROM import_errors WHERE row_index = 2 AND field = 'name' AND message = $1`, contact.ErasedMarker); n != 1 {
		t.Error("the row quoting James Smith was not scrubbed")
	}
	if n := b.Count(t, `SELECT count(*) FROM import_errors WHERE row_index = 3 AND field = $1 AND message = $1`, contact.ErasedMarker); n != 1 {
		t.Error("the row quoting his email (his first name in its field) was not scrubbed")
	}
	// A contact with no last name: the first name is the whole name, scrubbed alone.
	cher, err := b.App.Contacts.CreateContact(b.Ctx, contact.NewContact{FirstName: "Cherilyn", Email: "c@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Pool.Exec(b.Ctx, `INSERT INTO import_errors (import_id, row_index, seq, line, field, message) VALUES
		($1, 4, 0, 5, 'name', 'duplicate of Cherilyn')`, imp); err != nil {
		t.Fatal(err)
	}
	if err := b.App.Erasure.Erase(b.Ctx, []uuid.UUID{cher.ID}, "test"); err != nil {
		t.Fatal(err)
	}
	if n := b.Count(t, `SELECT count(*) FROM import_errors WHERE row_index = 4 AND message = $1`, contact.ErasedMarker); n != 1 {
		t.Error("the row quoting a contact known by a first name only was not scrubbed")
	}
}
