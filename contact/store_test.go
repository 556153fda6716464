package contact_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/apptest"
	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
)

// bundle is a fresh database with every store over it, and the contact store at hand.
type bundle struct {
	apptest.Bundle
	store *contact.Store
}

func setup(t *testing.T) bundle {
	t.Helper()
	b := apptest.New(t)
	return bundle{Bundle: b, store: b.App.Contacts}
}

func TestCreateContactEnqueuesNormalizeInItsTransaction(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c, err := b.store.CreateContact(b.Ctx, contact.NewContact{FirstName: "Ada", Email: "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := b.Pool.Begin(b.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(b.Ctx) //nolint:errcheck
	rivertest.RequireInsertedTx[*riverpgxv5.Driver](b.Ctx, t, tx, &contact.NormalizeArgs{ContactID: c.ID}, nil)
}

func TestRolledBackCreateLeavesNoJobAndNoRows(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// An unknown account makes the transaction fail after the contact row was inserted.
	_, err := b.store.CreateContact(b.Ctx, contact.NewContact{
		FirstName: "Ada", Email: "ada@example.com",
		Relationships: []contact.NewRelationship{{EntityType: "account", EntityID: uuid.NewString()}},
	})
	de := apptest.RequireKind(t, err, db.KindInvalid)
	if len(de.Fields) != 1 || de.Fields[0].Field != "relationships[0].entityId" {
		t.Fatalf("fields = %+v", de.Fields)
	}
	for _, q := range []string{
		`SELECT count(*) FROM contacts`, `SELECT count(*) FROM audit_log`,
		`SELECT count(*) FROM river_job`, `SELECT count(*) FROM contact_accounts`,
	} {
		if n := b.Count(t, q); n != 0 {
			t.Errorf("%s = %d, want 0", q, n)
		}
	}
}

func TestUpdateEnqueuesOnlyWhenAMatchedFieldChanges(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c, err := b.store.CreateContact(b.Ctx, contact.NewContact{FirstName: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	jobs := func() int {
		return b.Count(t, `SELECT count(*) FROM river_job WHERE kind = 'normalize_contact'`)
	}
	if n := jobs(); n != 1 {
		t.Fatalf("create enqueued %d jobs, want 1 (keys and the duplicate check follow every create)", n)
	}
	if _, err := b.Pool.Exec(b.Ctx, `DELETE FROM river_job`); err != nil {
		t.Fatal(err)
	}
	yes := true
	if _, err := b.store.UpdateContact(b.Ctx, c.ID, contact.Update{Preferences: &contact.PreferencesPatch{NotifyEmail: contact.Some(yes)}}); err != nil {
		t.Fatal(err)
	}
	if n := jobs(); n != 0 {
		t.Fatalf("a preferences change enqueued %d jobs", n)
	}
	if _, err := b.store.UpdateContact(b.Ctx, c.ID, contact.Update{Phone: contact.Some("+44 20 7946 0958")}); err != nil {
		t.Fatal(err)
	}
	if n := jobs(); n != 1 {
		t.Fatalf("a phone change enqueued %d jobs, want 1", n)
	}
	// A second change while the first job waits does not enqueue a second one.
	if _, err := b.store.UpdateContact(b.Ctx, c.ID, contact.Update{Phone: contact.Some("+44 20 7946 0959")}); err != nil {
		t.Fatal(err)
	}
	if n := jobs(); n != 1 {
		t.Fatalf("pending jobs = %d, want 1 (unique per contact while pending)", n)
	}
	// Audit: create and three updates, each with before and after.
	trail, err := b.store.AuditTrail(b.Ctx, c.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(trail) != 4 || trail[0].Action != "create" || trail[3].Action != "update" || trail[3].Actor != "test" {
		t.Fatalf("trail = %+v", trail)
	}
	ch := trail[3].Changes["phone"]
	if ch.Before != "+44 20 7946 0958" || ch.After != "+44 20 7946 0959" {
		t.Fatalf("phone change = %+v", ch)
	}
}

func TestDuplicateEmailConflict(t *testing.T) {
	t.Parallel()
	b := setup(t)
	first, err := b.store.CreateContact(b.Ctx, contact.NewContact{FirstName: "Ada", Email: "ada@Example.com"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.store.CreateContact(b.Ctx, contact.NewContact{FirstName: "A.", Email: " ada@EXAMPLE.COM "})
	if de := apptest.RequireKind(t, err, db.KindConflict); de.ExistingID != first.ID.String() {
		t.Fatalf("existing id = %s, want %s", de.ExistingID, first.ID)
	}
	if _, err := b.store.CreateContact(b.Ctx, contact.NewContact{FirstName: "A.", Email: "ada@example.com", AllowDuplicate: true}); err != nil {
		t.Fatalf("allowDuplicate: %v", err)
	}
	// An archived contact no longer blocks the address.
	if err := b.store.ArchiveContact(b.Ctx, first.ID); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentCreatesOfOneEmailMakeOneContact(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Go(func() {
			_, err := b.store.CreateContact(b.Ctx, contact.NewContact{FirstName: "Ada", Email: "race@example.com"})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		if err == nil {
			ok++
		} else {
			apptest.RequireKind(t, err, db.KindConflict)
		}
	}
	if ok != 1 {
		t.Fatalf("%d creates succeeded, want 1", ok)
	}
}

func TestUpdateVersionAndClearing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c, err := b.store.CreateContact(b.Ctx, contact.NewContact{FirstName: "Ada", Email: "ada@example.com", Phone: "4155550100"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.store.UpdateContact(b.Ctx, c.ID, contact.Update{Title: contact.Some("x"), IfVersion: 7})
	apptest.RequireKind(t, err, db.KindPreconditionFailed)
	u, err := b.store.UpdateContact(b.Ctx, c.ID, contact.Update{Email: contact.Opt[string]{Set: true, Null: true}, IfVersion: 1})
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != nil || u.Normalized.Email != nil || u.Version != 2 || *u.FirstName != "Ada" {
		t.Fatalf("after clearing email: %+v", u)
	}
	_, err = b.store.UpdateContact(b.Ctx, c.ID, contact.Update{
		FirstName: contact.Opt[string]{Set: true, Null: true}, Phone: contact.Opt[string]{Set: true, Null: true},
	})
	apptest.RequireKind(t, err, db.KindInvalid)
	same, err := b.store.UpdateContact(b.Ctx, c.ID, contact.Update{FirstName: contact.Some("Ada")})
	if err != nil || same.Version != 2 {
		t.Fatalf("a no-op update bumped the version: %v %+v", err, same)
	}
}

func TestListKeysetPagination(t *testing.T) {
	t.Parallel()
	b := setup(t)
	want := map[uuid.UUID]bool{}
	for i := range 23 {
		company := "Acme"
		if i%2 == 1 {
			company = "Other"
		}
		c, err := b.store.CreateContact(b.Ctx, contact.NewContact{FirstName: "P", Company: company})
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			want[c.ID] = true
		}
	}
	var after *contact.Cursor
	seen := map[uuid.UUID]bool{}
	for pages := 0; ; pages++ {
		page, err := b.store.ListContacts(b.Ctx, contact.Filter{Company: "ACME"}, contact.Page{Limit: 5, After: after})
		if err != nil {
			t.Fatal(err)
		}
		next := page.Next
		for _, c := range page.Contacts {
			if seen[c.ID] || !want[c.ID] {
				t.Fatalf("unexpected or repeated contact %s", c.ID)
			}
			seen[c.ID] = true
		}
		if next == nil {
			break
		}
		after = next
	}
	if len(seen) != len(want) {
		t.Fatalf("listed %d, want %d", len(seen), len(want))
	}
}

func TestNormalizeWritesFormsAndCompletesInTx(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c, err := b.store.CreateContact(b.Ctx, contact.NewContact{FirstName: "Ada", Email: "Ada@BÜCHER.example", Phone: "020 7946 0958 x 7"})
	if err != nil {
		t.Fatal(err)
	}
	called := false
	err = b.store.Normalize(b.Ctx, c.ID, "GB", func(tx pgx.Tx) error { called = true; return nil })
	if err != nil || !called {
		t.Fatalf("normalize: %v (callback called: %v)", err, called)
	}
	got, err := b.store.GetContact(b.Ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	n := got.Normalized
	if n.Email == nil || *n.Email != "Ada@xn--bcher-kva.example" || n.Phone == nil || *n.Phone != "+442079460958" ||
		n.PhoneExtension == nil || *n.PhoneExtension != "7" || n.PhoneValid == nil || !*n.PhoneValid || n.At == nil {
		t.Fatalf("normalized = %+v", n)
	}
	// A failing callback rolls the writes back.
	if _, err := b.store.UpdateContact(b.Ctx, c.ID, contact.Update{Phone: contact.Some("12345")}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if err := b.store.Normalize(b.Ctx, c.ID, "GB", func(pgx.Tx) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	got, _ = b.store.GetContact(b.Ctx, c.ID)
	if got.Normalized.Phone != nil {
		t.Fatalf("phone forms written despite rollback: %+v", got.Normalized)
	}
	// Deleted rows are not an error.
	if err := b.store.Normalize(b.Ctx, uuid.New(), "US", func(pgx.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
}
