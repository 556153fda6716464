package worker

import (
	"slices"
	"testing"

	"github.com/contactd/contactd/idempotency"
	"github.com/contactd/contactd/importer"
	"github.com/contactd/contactd/internal/apptest"
	"github.com/contactd/contactd/sync/source"
	"github.com/contactd/contactd/webhook"
	"github.com/google/uuid"
	"github.com/riverqueue/river"
)

// A running long job whose liveness lock nobody holds (its process died) is made available
// again; one whose lock is held (its process lives) or that has just started is left alone.
func TestRescueOrphanedLongJobs(t *testing.T) {
	t.Parallel()
	b := apptest.New(t)
	insert := func(age string) int64 {
		res, err := b.App.DB.Jobs.Insert(b.Ctx, importer.Args{ImportID: uuid.Must(uuid.NewV7())}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Pool.Exec(b.Ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now() - $2::interval
			WHERE id = $1`, res.Job.ID, age); err != nil {
			t.Fatal(err)
		}
		return res.Job.ID
	}
	orphan, alive, young := insert("2 minutes"), insert("2 minutes"), insert("1 second")
	conn, err := b.Pool.Acquire(b.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(b.Ctx, `SELECT pg_advisory_lock(`+livenessKey("$1::bigint")+`)`, alive); err != nil {
		t.Fatal(err)
	}
	ids, err := rescueOrphans(b.Ctx, b.App.DB)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, []int64{orphan}) {
		t.Fatalf("rescued %v, want only the orphan %d (alive %d, young %d)", ids, orphan, alive, young)
	}
	var state string
	if err := b.Pool.QueryRow(b.Ctx, `SELECT state FROM river_job WHERE id = $1`, orphan).Scan(&state); err != nil || state != "available" {
		t.Fatalf("the orphan is %s (%v), want available", state, err)
	}
}

// The periodic housekeeping jobs are unique only while waiting or running: once one completed,
// the next period's is inserted (River's default unique states include completed, which would
// make each run once per database).
func TestPeriodicJobsRunAgainAfterCompleting(t *testing.T) {
	t.Parallel()
	b := apptest.New(t)
	for _, args := range []river.JobArgs{RescueArgs{}, idempotency.CleanArgs{}, webhook.RetentionArgs{}, source.DueArgs{}} {
		first, err := b.App.DB.Jobs.Insert(b.Ctx, args, nil)
		if err != nil {
			t.Fatal(err)
		}
		if again, err := b.App.DB.Jobs.Insert(b.Ctx, args, nil); err != nil || !again.UniqueSkippedAsDuplicate {
			t.Errorf("%s: a second one while the first waits was inserted (%v)", args.Kind(), err)
		}
		if _, err := b.Pool.Exec(b.Ctx, `UPDATE river_job SET state = 'completed', finalized_at = now() WHERE id = $1`, first.Job.ID); err != nil {
			t.Fatal(err)
		}
		if next, err := b.App.DB.Jobs.Insert(b.Ctx, args, nil); err != nil || next.UniqueSkippedAsDuplicate {
			t.Errorf("%s: the next period's job was skipped as a duplicate of a completed one (%v)", args.Kind(), err)
		}
	}
}
