package runs_test

import (
	"context"
	"testing"

	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/internal/dbtest"
	"github.com/contactd/contactd/internal/runs"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

type run struct {
	ID     uuid.UUID
	Owner  uuid.UUID
	Status runs.Status
}

func scan(row pgx.Row) (*run, error) {
	var r run
	err := row.Scan(&r.ID, &r.Owner, &r.Status)
	return &r, err
}

var ledger = runs.Ledger{Runs: "t_runs", Owner: "owner_id", Owners: "t_owners", Columns: "id, owner_id, status", Noun: "owner"}

// setup makes a throwaway ledger of the shape the package expects.
func setup(t *testing.T) *db.DB {
	t.Helper()
	d := dbtest.DB(t)
	_, err := d.Pool.Exec(context.Background(), `
		CREATE TABLE t_owners (id uuid PRIMARY KEY, schedule_seconds int, next_due_at timestamptz);
		CREATE TABLE t_runs (id uuid PRIMARY KEY, owner_id uuid NOT NULL REFERENCES t_owners, status text NOT NULL);
		CREATE UNIQUE INDEX ON t_runs (owner_id) WHERE status IN ('queued', 'running');`)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestLedger(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := setup(t)
	owner, other := uuid.New(), uuid.New()
	if _, err := d.Pool.Exec(ctx, `INSERT INTO t_owners (id) VALUES ($1), ($2)`, owner, other); err != nil {
		t.Fatal(err)
	}
	var ids []uuid.UUID
	for i, st := range []runs.Status{runs.Succeeded, runs.Failed, runs.Succeeded, runs.Running} {
		id := uuid.Must(uuid.NewV7())
		ids = append(ids, id)
		if _, err := d.Pool.Exec(ctx, `INSERT INTO t_runs VALUES ($1, $2, $3)`, id, owner, st); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}

	err := d.InTx(ctx, func(tx pgx.Tx) error {
		got, found, err := runs.Active(ctx, tx, ledger, owner, scan)
		if err != nil || !found || got.ID != ids[3] {
			t.Errorf("Active(owner) = %v, %v, %v; want the running run %s", got, found, err, ids[3])
		}
		if _, found, err := runs.Active(ctx, tx, ledger, other, scan); err != nil || found {
			t.Errorf("Active(other) = %v, %v; want none", found, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	if got, err := runs.Get(ctx, d.Pool, ledger, owner, ids[1], scan); err != nil || got.Status != runs.Failed {
		t.Errorf("Get = %v, %v; want the failed run", got, err)
	}
	if _, err := runs.Get(ctx, d.Pool, ledger, other, ids[1], scan); db.ErrorKind(err) != db.KindNotFound {
		t.Errorf("Get of another owner's run: %v, want not found", err)
	}

	// Pages of 3 then 1, newest first, and no cursor after the last.
	page, next, err := runs.List(ctx, d.Pool, ledger, owner, 3, nil, scan, func(r *run) uuid.UUID { return r.ID })
	if err != nil || len(page) != 3 || next == nil || page[0].ID != ids[3] || *next != ids[1] {
		t.Fatalf("first page = %d runs, next %v, %v", len(page), next, err)
	}
	page, next, err = runs.List(ctx, d.Pool, ledger, owner, 3, next, scan, func(r *run) uuid.UUID { return r.ID })
	if err != nil || len(page) != 1 || next != nil || page[0].ID != ids[0] {
		t.Fatalf("second page = %d runs, next %v, %v", len(page), next, err)
	}

	if !runs.Succeeded.Done() || !runs.Failed.Done() || runs.Queued.Done() || runs.Running.Done() {
		t.Error("Done: only succeeded and failed runs are over")
	}
}

func TestEnqueueDue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := setup(t)
	due, later, manual := uuid.New(), uuid.New(), uuid.New()
	_, err := d.Pool.Exec(ctx, `INSERT INTO t_owners VALUES
		($1, 60, now() - interval '1 second'), ($2, 60, now() + interval '1 hour'), ($3, NULL, now() - interval '1 hour')`,
		due, later, manual)
	if err != nil {
		t.Fatal(err)
	}
	var started []uuid.UUID
	n, err := runs.EnqueueDue(ctx, d, ledger, func(ctx context.Context, tx pgx.Tx, owner uuid.UUID) (bool, error) {
		started = append(started, owner)
		return true, nil
	})
	if err != nil || n != 1 || len(started) != 1 || started[0] != due {
		t.Fatalf("EnqueueDue = %d, %v, started %v; want only %s", n, err, started, due)
	}
	// The due owner moved a schedule on: a second pass queues nothing.
	n, err = runs.EnqueueDue(ctx, d, ledger, func(context.Context, pgx.Tx, uuid.UUID) (bool, error) { return true, nil })
	if err != nil || n != 0 {
		t.Fatalf("second EnqueueDue = %d, %v; want 0", n, err)
	}
	var inAMinute bool
	if err := d.Pool.QueryRow(ctx, `SELECT next_due_at > now() + interval '50 seconds' FROM t_owners WHERE id = $1`, due).Scan(&inAMinute); err != nil || !inAMinute {
		t.Fatalf("next due of the due owner not moved a schedule on: %v, %v", inAMinute, err)
	}
}
