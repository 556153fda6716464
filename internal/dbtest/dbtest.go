// Package dbtest gives each test its own fresh, migrated PostgreSQL database, cloned from a
// template with pgtestdb, so database tests run in parallel against the real server. It is for
// tests only and must not be imported by production code.
package dbtest

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"github.com/contactd/contactd/internal/db"
	"io/fs"
	"net/url"
	"os"
	"testing"

	"github.com/contactd/contactd/migrations"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver pgtestdb opens
	"github.com/peterldowns/pgtestdb"
)

// ServerURL is the PostgreSQL server tests use: TEST_DATABASE_URL, or the local server.
func ServerURL() string {
	return cmp.Or(os.Getenv("TEST_DATABASE_URL"), "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
}

// migrator applies contactd's migrations and River's to a template database.
type migrator struct{}

// Hash identifies the migrated schema: a change to any migration file makes a new template.
func (migrator) Hash() (string, error) {
	h := sha256.New()
	h.Write([]byte("river-v0.51.1\x00"))
	err := fs.WalkDir(migrations.Files(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.Files(), path)
		if err != nil {
			return err
		}
		h.Write([]byte(path + "\x00"))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:16], err
}

// Migrate migrates the template database.
func (migrator) Migrate(ctx context.Context, _ *sql.DB, conf pgtestdb.Config) error {
	pool, err := pgxpool.New(ctx, conf.URL())
	if err != nil {
		return err
	}
	defer pool.Close()
	return migrations.Up(ctx, pool)
}

func config(t testing.TB) pgtestdb.Config {
	u, err := url.Parse(ServerURL())
	if err != nil {
		t.Fatalf("dbtest: TEST_DATABASE_URL: %v", err)
	}
	pw, _ := u.User.Password()
	return pgtestdb.Config{
		DriverName: "pgx",
		User:       u.User.Username(),
		Password:   pw,
		Host:       u.Hostname(),
		Port:       cmp.Or(u.Port(), "5432"),
		Options:    "sslmode=disable",
	}
}

// URL creates a fresh migrated database for the test and returns its connection URL. The
// database is dropped when the test passes.
func URL(t testing.TB) string {
	t.Helper()
	return pgtestdb.Custom(t, config(t), migrator{}).URL()
}

// Pool creates a fresh migrated database for the test and returns a pool on it.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pc, err := pgxpool.ParseConfig(URL(t))
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	pc.AfterConnect = db.AfterConnect
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		t.Fatalf("dbtest: connect: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// DB creates a fresh migrated database for the test and returns the stores' database layer
// over a pool on it.
func DB(t testing.TB) *db.DB {
	t.Helper()
	d, err := db.New(Pool(t))
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	return d
}
