package relationship_test

import (
	"context"
	"sync"
	"testing"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/app"
	"github.com/contactd/contactd/internal/dbtest"
	"github.com/jackc/pgx/v5/pgxpool"
)

type bundle struct {
	ctx   context.Context
	pool  *pgxpool.Pool
	store *contact.Store
	app   *app.App
}

func setup(t *testing.T) bundle {
	t.Helper()
	a, err := app.New(dbtest.Pool(t))
	if err != nil {
		t.Fatal(err)
	}
	return bundle{ctx: contact.WithActor(context.Background(), "test"), pool: a.DB.Pool, store: a.Contacts, app: a}
}

func count(t *testing.T, b bundle, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := b.pool.QueryRow(b.ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestPrimaryContactMovesBetweenContacts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acct, err := b.app.Relations.CreateAccount(b.ctx, "Acme", "acme.com")
	if err != nil {
		t.Fatal(err)
	}
	rel := func() []contact.NewRelationship {
		return []contact.NewRelationship{{EntityType: "account", EntityID: acct.ID.String(), Role: "buyer", IsPrimary: true}}
	}
	a, err := b.store.CreateContact(b.ctx, contact.NewContact{FirstName: "A", Relationships: rel()})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := b.store.CreateContact(b.ctx, contact.NewContact{FirstName: "B", Relationships: rel()})
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.store.GetContact(b.ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Relationships) != 1 || got.Relationships[0].IsPrimary {
		t.Fatalf("first contact's relationship = %+v, want no longer primary", got.Relationships)
	}
	if n := count(t, b, `SELECT count(*) FROM contact_accounts WHERE is_primary AND removed_at IS NULL`); n != 1 {
		t.Fatalf("%d primaries", n)
	}
	// Racing primaries serialize on the account row: exactly one ends primary.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			c, err := b.store.CreateContact(b.ctx, contact.NewContact{FirstName: "R"})
			if err == nil {
				_, err = b.app.Relations.AddRelationship(b.ctx, c.ID, rel()[0])
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := count(t, b, `SELECT count(*) FROM contact_accounts WHERE is_primary AND removed_at IS NULL`); n != 1 {
		t.Fatalf("%d primaries after racing", n)
	}
	if got, err := b.store.GetContact(b.ctx, c2.ID); err != nil || len(got.Relationships) != 1 {
		t.Fatalf("second contact's relationships %+v %v", got, err)
	}
}
