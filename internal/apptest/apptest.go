// Package apptest gives a database test what it needs in one call: a fresh migrated database
// (internal/dbtest), every store wired over it (internal/app), a context with an audit actor,
// and small assertions. Tests only: nothing outside _test.go files may import it.
package apptest

import (
	"context"
	"errors"
	"testing"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/app"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/internal/dbtest"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Bundle is a fresh database with every store over it.
type Bundle struct {
	// Ctx audits changes as made by "test".
	Ctx  context.Context
	Pool *pgxpool.Pool
	App  *app.App
}

// New gives the test a fresh migrated database with every store wired over it, and extra
// concerns registered after the built-in ones.
func New(t testing.TB, extra ...contact.Owned) Bundle {
	t.Helper()
	pool := dbtest.Pool(t)
	a, err := app.New(pool, extra...)
	if err != nil {
		t.Fatal(err)
	}
	return Bundle{Ctx: contact.WithActor(context.Background(), "test"), Pool: pool, App: a}
}

// Count runs a query that returns one integer and returns it, failing the test on an error.
func (b Bundle) Count(t testing.TB, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := b.Pool.QueryRow(b.Ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// RequireKind fails the test unless err is a domain error of kind, and returns it.
func RequireKind(t testing.TB, err error, kind db.Kind) *db.Error {
	t.Helper()
	var de *db.Error
	if !errors.As(err, &de) || de.Kind != kind {
		t.Fatalf("got error %v, want kind %d", err, kind)
	}
	return de
}
