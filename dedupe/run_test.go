package dedupe_test

import (
	"errors"
	"testing"

	"github.com/contactd/contactd/dedupe"
	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
)

// TestScansRunOneAtATime: a second scan request while one is queued is refused (naming it), and
// a scan started while another holds the scan lock (a worker's, or `contactd dedupe --wait`)
// returns ErrScanRunning without touching its run; once the first ends, scans run again.
func TestScansRunOneAtATime(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.addSmithsons(t)
	first, err := b.app.Dedupe.CreateRun(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.app.Dedupe.CreateRun(b.ctx)
	var de *db.Error
	if !errors.As(err, &de) || de.Kind != db.KindConflict {
		t.Fatalf("second queued scan: %v, want a conflict", err)
	}

	// Hold the scan lock as a running scan does.
	conn, err := b.pool.Acquire(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(b.ctx, `SELECT pg_advisory_lock(7002)`); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.engine.RunScan(b.ctx, first.ID, nil); !errors.Is(err, dedupe.ErrScanRunning) {
		t.Fatalf("scan while another runs: %v, want ErrScanRunning", err)
	}
	if r, err := b.app.Dedupe.GetRun(b.ctx, first.ID); err != nil || r.Status != "queued" {
		t.Fatalf("the refused scan's run: %+v %v", r, err)
	}
	if _, err := conn.Exec(b.ctx, `SELECT pg_advisory_unlock(7002)`); err != nil {
		t.Fatal(err)
	}
	run, st, err := b.engine.RunScan(b.ctx, first.ID, nil)
	if err != nil || run.Status != "succeeded" || st.Merges != 1 {
		t.Fatalf("scan after the other ended: %+v %+v %v", run, st, err)
	}
	// A scan with no run of its own records one.
	run, _, err = b.engine.RunScan(b.ctx, uuid.Nil, nil)
	if err != nil || run.ID == first.ID || run.Status != "succeeded" {
		t.Fatalf("scan without a run: %+v %v", run, err)
	}
}

// TestProposeOnlyScanCountsClusters: a scan without a merger counts the clusters it found (and
// proposes their pairs) without calling them dismissed.
func TestProposeOnlyScanCountsClusters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	orig, dup := b.addSmithsons(t)
	st, err := b.propose.Scan(b.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Clusters != 1 || st.Dismissed != 0 || st.Merges != 0 || st.ReviewsOpened != 1 {
		t.Fatalf("propose-only scan: %+v", st)
	}
	reviews, _, err := b.app.Dedupe.ListReviews(b.ctx, "open", nil, 10)
	if err != nil || len(reviews) != 1 {
		t.Fatalf("open reviews %d %v", len(reviews), err)
	}
	if r := reviews[0]; !(r.ContactA == orig && r.ContactB == dup || r.ContactA == dup && r.ContactB == orig) {
		t.Fatalf("review of %s/%s, want the Smithsons", r.ContactA, r.ContactB)
	}
}
