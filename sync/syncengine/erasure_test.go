package syncengine_test

import (
	"strings"
	"testing"

	"github.com/contactd/contactd/internal/runs"
	"github.com/google/uuid"
)

// TestPullNeverRecreatesAnErasedPerson: after a synced person is erased, their link stays
// emptied; the next version of their record is a run error "suppressed" and is not written into
// the tombstone; a new remote record with their email is refused the same way.
func TestPullNeverRecreatesAnErasedPerson(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	b.remote.put("p1", "Ada", "Lovelace", "ada@example.com", false)
	b.remote.put("p2", "Alan", "Turing", "alan@example.com", false)
	wantStats(t, b.sync(t, false), runs.Succeeded, 2, 0, 0, 0)
	ada := b.contactOf(t, "p1")
	if err := b.App.Erasure.Erase(b.Ctx, []uuid.UUID{ada.ID}, "test"); err != nil {
		t.Fatal(err)
	}

	b.remote.put("p1", "Ada", "King", "ada@example.com", false)
	b.remote.put("p9", "Augusta", "Ada", "ADA@example.com", false)
	run := b.sync(t, false)
	if run.Stats.Created != 0 || len(run.Stats.Errors) != 2 {
		t.Fatalf("run: %+v", run.Stats)
	}
	for _, e := range run.Stats.Errors {
		if !strings.HasPrefix(e.Message, "suppressed") {
			t.Errorf("run error %+v", e)
		}
	}
	if n := b.Count(t, `SELECT count(*) FROM contacts WHERE status <> 'erased' AND email_normalized ILIKE 'ada@%'`); n != 0 {
		t.Errorf("the erased person came back (%d contacts)", n)
	}
	if n := b.Count(t, `SELECT count(*) FROM contacts WHERE id = $1 AND status = 'erased' AND last_name IS NULL`, ada.ID); n != 1 {
		t.Errorf("the tombstone was written to")
	}

	// Two new records of theirs in one page: the second, held back as the same person as the
	// first, goes the one-by-one way, which refuses it too.
	b.remote.put("p5", "Ada", "Lovelace", "ada@example.com", false)
	b.remote.put("p6", "A.", "Lovelace", "ada@example.com", false)
	if run := b.sync(t, false); run.Stats.Created != 0 {
		t.Fatalf("run: %+v", run.Stats)
	}
	if n := b.Count(t, `SELECT count(*) FROM contacts WHERE status <> 'erased' AND email_normalized ILIKE 'ada@%'`); n != 0 {
		t.Errorf("the erased person came back through a page's second record (%d contacts)", n)
	}
}
