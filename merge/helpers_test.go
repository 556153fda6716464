package merge_test

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

// bundle is what a merge test needs: the stores over a fresh database.
type bundle struct {
	ctx  context.Context
	pool *pgxpool.Pool
	app  *app.App
}

// setup gives the test a fresh migrated database with every store wired over it, and extra
// concerns registered after the built-in ones.
func setup(t *testing.T, extra ...contact.Owned) bundle {
	t.Helper()
	pool := dbtest.Pool(t)
	a, err := app.New(pool, extra...)
	if err != nil {
		t.Fatal(err)
	}
	return bundle{ctx: contact.WithActor(context.Background(), "test"), pool: pool, app: a}
}

func count(t *testing.T, b bundle, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := b.pool.QueryRow(b.ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func requireKind(t *testing.T, err error, kind db.Kind) *db.Error {
	t.Helper()
	var de *db.Error
	if !errors.As(err, &de) || de.Kind != kind {
		t.Fatalf("got error %v, want kind %d", err, kind)
	}
	return de
}
