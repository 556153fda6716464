package dedupe_test

import (
	"context"
	"errors"
	"testing"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/dedupe"
	"github.com/contactd/contactd/internal/app"
	"github.com/contactd/contactd/internal/dbtest"
	"github.com/contactd/contactd/merge"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

type bundle struct {
	ctx  context.Context
	pool *pgxpool.Pool
	app  *app.App
	// engine merges what it is sure of; propose only proposes.
	engine, propose *dedupe.Engine
}

func setup(t *testing.T) bundle {
	t.Helper()
	pool := dbtest.Pool(t)
	a, err := app.New(pool)
	if err != nil {
		t.Fatal(err)
	}
	return bundle{ctx: contact.WithActor(context.Background(), "test"), pool: pool, app: a, engine: a.Engine,
		propose: &dedupe.Engine{Store: a.Dedupe, Contacts: a.Contacts}}
}

// countingMerger counts the bulk merges an engine asks for.
type countingMerger struct {
	dedupe.Merger
	calls int
}

func (m *countingMerger) MergeClusters(ctx context.Context, reqs []merge.Request) ([]*merge.Merge, map[int]error, error) {
	m.calls++
	return m.Merger.MergeClusters(ctx, reqs)
}

// addSmithsons adds two records of one person that the matcher is sure of, the older first.
func (b bundle) addSmithsons(t *testing.T) (orig, dup uuid.UUID) {
	t.Helper()
	orig = b.add(t, contact.NewContact{FirstName: "Robert", LastName: "Smithson", Email: "robert.smithson@acme-widgets.com", Phone: "+1 415 555 0142", Company: "Acme Widgets Inc"})
	dup = b.add(t, contact.NewContact{FirstName: "Bob", LastName: "Smithson", Email: "Robert.Smithson@acme-widgets.com", Phone: "(415) 555-0142", Company: "ACME Widgets"})
	return orig, dup
}

// add creates a contact and normalizes it (writing its keys), as the normalize job does.
func (b bundle) add(t *testing.T, in contact.NewContact) uuid.UUID {
	t.Helper()
	in.AllowDuplicate = true
	c, err := b.app.Contacts.CreateContact(b.ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.app.Contacts.Normalize(b.ctx, c.ID, "US", func(pgx.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	return c.ID
}

// openReviews returns how many reviews are open.
func (b bundle) openReviews(t *testing.T) int {
	t.Helper()
	n, err := b.app.Dedupe.CountReviews(b.ctx, "open")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// pairReview returns the status of the review of the pair, "" when there is none.
func (b bundle) pairReview(t *testing.T, x, y uuid.UUID) string {
	t.Helper()
	var status string
	err := b.pool.QueryRow(b.ctx, `SELECT status FROM duplicate_reviews WHERE (contact_a, contact_b) IN (($1, $2), ($2, $1))`, x, y).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return status
}

func (b bundle) status(t *testing.T, id uuid.UUID) (contact.Status, *uuid.UUID) {
	t.Helper()
	c, err := b.app.Contacts.GetContact(b.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return c.Status, c.MergedInto
}

func TestCheckContactMergesSureDuplicatesAndProposesUnsureOnes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	orig := b.add(t, contact.NewContact{FirstName: "Robert", LastName: "Smithson", Email: "robert.smithson@acme-widgets.com", Phone: "+1 415 555 0142", Company: "Acme Widgets Inc", Title: "VP Sales"})
	dup := b.add(t, contact.NewContact{FirstName: "Bob", LastName: "Smithson", Email: "Robert.Smithson@acme-widgets.com", Phone: "(415) 555-0142", Company: "ACME Widgets", Title: "VP of Sales"})
	// A colleague sharing the company, its domain and the switchboard number is not him.
	colleague := b.add(t, contact.NewContact{FirstName: "Maria", LastName: "Gonzalez", Email: "maria.gonzalez@acme-widgets.com", Phone: "+1 415 555 0142", Company: "Acme Widgets Inc", Title: "Engineer"})

	out, err := b.engine.CheckContact(b.ctx, dup)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Merged) != 2 {
		t.Fatalf("outcome %+v: want the duplicate merged with the original", out)
	}
	if st, into := b.status(t, dup); st != contact.StatusMerged || into == nil || *into != orig {
		t.Fatalf("duplicate: %s into %v, want merged into the older %s", st, into, orig)
	}
	if st, _ := b.status(t, colleague); st != contact.StatusActive {
		t.Fatalf("the colleague was merged")
	}
	var merges int
	var version *int
	if err := b.pool.QueryRow(b.ctx, `SELECT count(*), max(model_version) FROM merges`).Scan(&merges, &version); err != nil || merges != 1 {
		t.Fatalf("%d merges %v", merges, err)
	}
	// The original's email keeps matching after the merge through the survivor's alternates.
	check, err := b.engine.CheckRecord(b.ctx, &contact.Contact{Values: contact.Values{FirstName: ptr("Bob"), LastName: ptr("Smithson"), Email: ptr("robert.smithson@acme-widgets.com")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(check) == 0 || check[0].ContactID != orig {
		t.Fatalf("check of a new record: %+v", check)
	}
}

func TestDismissedPairIsNotProposedAgainUntilAContactChanges(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// A near namesake at the same company, one with an email and one with a title: possible,
	// not sure.
	a := b.add(t, contact.NewContact{FirstName: "John", LastName: "Miller", Email: "jmiller@globex.io", Company: "Globex"})
	c := b.add(t, contact.NewContact{FirstName: "Jon", LastName: "Miller", Company: "Globex Corp", Title: "CTO"})
	out, err := b.engine.CheckContact(b.ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Merged) > 0 {
		t.Fatalf("an unsure pair was merged: %+v", out)
	}
	reviews, _, err := b.app.Dedupe.ListReviews(b.ctx, "open", nil, 10)
	if err != nil || len(reviews) != 1 {
		t.Fatalf("open reviews %d %v (outcome %+v)", len(reviews), err, out)
	}
	if _, err := b.app.Dedupe.DismissReview(b.ctx, reviews[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.engine.CheckContact(b.ctx, a); err != nil {
		t.Fatal(err)
	}
	if n := b.openReviews(t); n != 0 {
		t.Fatalf("a dismissed pair was proposed again: %d open", n)
	}
	// A change in a matched field makes it eligible again.
	if _, err := b.app.Contacts.UpdateContact(b.ctx, a, contact.Update{Email: contact.Some("john.miller@globex.io")}); err != nil {
		t.Fatal(err)
	}
	if err := b.app.Contacts.Normalize(b.ctx, a, "US", func(pgx.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := b.engine.CheckContact(b.ctx, a); err != nil {
		t.Fatal(err)
	}
	if n := b.openReviews(t); n != 1 {
		t.Fatalf("after a change: %d open reviews, want 1", n)
	}
}

func ptr(s string) *string { return &s }

// TestScanMergesClustersInBulk: a full scan merges a duplicate pair through the bulk merge,
// leaves a different person alone, and records its statistics.
func TestScanMergesClustersInBulk(t *testing.T) {
	t.Parallel()
	b := setup(t)
	orig, dup := b.addSmithsons(t)
	other := b.add(t, contact.NewContact{FirstName: "Maria", LastName: "Gonzalez", Email: "maria.gonzalez@acme-widgets.com", Phone: "+1 415 555 0142", Company: "Acme Widgets Inc"})
	st, err := b.engine.Scan(b.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Contacts != 3 || st.Merges != 1 || st.ContactsMerged != 2 || st.CandidatePairs == 0 {
		t.Fatalf("stats = %+v", st)
	}
	if s, into := b.status(t, dup); s != contact.StatusMerged || into == nil || *into != orig {
		t.Fatalf("duplicate %s into %v", s, into)
	}
	if s, _ := b.status(t, other); s != contact.StatusActive {
		t.Fatalf("a different person was merged")
	}
	// A pair it is sure of is merged, not put in front of a person.
	if r := b.pairReview(t, orig, dup); r != "" {
		t.Fatalf("the merged pair has a %s review", r)
	}
}

// TestProposeOnlyEngineReviewsSurePairs: an engine without a Merger, over a pair the matcher is
// sure of, merges nothing (both contacts stay active, no merge is stored) and opens a review
// of the pair instead, whether it scans, checks one contact or checks a batch.
func TestProposeOnlyEngineReviewsSurePairs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		run  func(b bundle, orig, dup uuid.UUID) error
	}{
		{"scan", func(b bundle, _, _ uuid.UUID) error { _, err := b.propose.Scan(b.ctx, nil); return err }},
		{"check", func(b bundle, _, dup uuid.UUID) error { _, err := b.propose.CheckContact(b.ctx, dup); return err }},
		{"batch", func(b bundle, orig, dup uuid.UUID) error {
			_, err := b.propose.CheckBatch(b.ctx, []uuid.UUID{orig, dup})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			orig, dup := b.addSmithsons(t)
			if err := tt.run(b, orig, dup); err != nil {
				t.Fatal(err)
			}
			for _, id := range []uuid.UUID{orig, dup} {
				if s, into := b.status(t, id); s != contact.StatusActive {
					t.Errorf("%s is %s into %v; a propose-only engine merged it", id, s, into)
				}
			}
			var merges int
			if err := b.pool.QueryRow(b.ctx, `SELECT count(*) FROM merges`).Scan(&merges); err != nil {
				t.Fatal(err)
			}
			if merges != 0 {
				t.Errorf("%d merges stored", merges)
			}
			if r := b.pairReview(t, orig, dup); r != "open" {
				t.Errorf("the sure pair's review is %q, want open", r)
			}
		})
	}
}

// TestDismissedSurePairIsNotMergedByScanOrBatch: a person dismissed a pair the matcher is sure
// of; neither a full scan nor an import batch's check merges it, until one of the two changes
// in a matched field.
func TestDismissedSurePairIsNotMergedByScanOrBatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	orig, dup := b.addSmithsons(t)
	cs, err := b.app.Contacts.MatchContacts(b.ctx, []uuid.UUID{orig, dup})
	if err != nil || len(cs) != 2 {
		t.Fatal(len(cs), err)
	}
	if _, err := b.app.Dedupe.ProposeReviews(b.ctx, []dedupe.ReviewProposal{{A: cs[0].ID, B: cs[1].ID, Score: 0.999,
		FingerprintA: dedupe.Fingerprint(cs[0].Contact), FingerprintB: dedupe.Fingerprint(cs[1].Contact)}}); err != nil {
		t.Fatal(err)
	}
	reviews, _, err := b.app.Dedupe.ListReviews(b.ctx, "open", nil, 10)
	if err != nil || len(reviews) != 1 {
		t.Fatalf("open reviews %d %v", len(reviews), err)
	}
	if _, err := b.app.Dedupe.DismissReview(b.ctx, reviews[0].ID); err != nil {
		t.Fatal(err)
	}
	st, err := b.engine.Scan(b.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Merges != 0 || st.Dismissed != 1 {
		t.Fatalf("scan over a dismissed sure pair: %+v", st)
	}
	out, err := b.engine.CheckBatch(b.ctx, []uuid.UUID{orig, dup})
	if err != nil || out.Merges != 0 {
		t.Fatalf("batch check over a dismissed sure pair: %+v %v", out, err)
	}
	if s, _ := b.status(t, dup); s != contact.StatusActive {
		t.Fatalf("dismissed duplicate is %s", s)
	}
	// A change in a matched field makes the pair mergeable again.
	if _, err := b.app.Contacts.UpdateContact(b.ctx, dup, contact.Update{Title: contact.Some("CEO"), FirstName: contact.Some("Rob")}); err != nil {
		t.Fatal(err)
	}
	if err := b.app.Contacts.Normalize(b.ctx, dup, "US", func(pgx.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	st, err = b.engine.Scan(b.ctx, nil)
	if err != nil || st.Merges != 1 {
		t.Fatalf("scan after a change: %+v %v", st, err)
	}
	if s, into := b.status(t, dup); s != contact.StatusMerged || into == nil || *into != orig {
		t.Fatalf("duplicate %s into %v after the change", s, into)
	}
}

// TestUndoneMergeIsNotMergedAgain: after a person undoes an automatic merge, the contacts'
// duplicate checks (which the undo enqueues) leave them apart; they are merged again only
// after one of them changes in a matched field.
func TestUndoneMergeIsNotMergedAgain(t *testing.T) {
	t.Parallel()
	b := setup(t)
	orig, dup := b.addSmithsons(t)
	out, err := b.engine.CheckContact(b.ctx, dup)
	if err != nil || len(out.Merged) != 2 {
		t.Fatalf("first check: %+v %v", out, err)
	}
	merges, _, err := b.app.Merges.ListMerges(b.ctx, nil, 10)
	if err != nil || len(merges) != 1 {
		t.Fatalf("merges %d %v", len(merges), err)
	}
	if _, _, err := b.app.Merges.UndoMerge(b.ctx, merges[0].ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []uuid.UUID{orig, dup} {
		out, err := b.engine.CheckContact(b.ctx, id)
		if err != nil || len(out.Merged) > 0 {
			t.Fatalf("check of %s after the undo: %+v %v", id, out, err)
		}
	}
	if n := b.openReviews(t); n != 0 {
		t.Errorf("%d open reviews after the undo, want none (the pair is dismissed)", n)
	}
	// A third record sure of both does not bring the two back together through itself.
	third := b.add(t, contact.NewContact{FirstName: "Robert", LastName: "Smithson", Email: "robert.smithson@acme-widgets.com", Phone: "+1 415 555 0142", Company: "Acme Widgets"})
	if _, err := b.engine.CheckContact(b.ctx, third); err != nil {
		t.Fatal(err)
	}
	so, into1 := b.status(t, orig)
	sd, into2 := b.status(t, dup)
	if so == contact.StatusMerged && sd == contact.StatusMerged && *into1 == *into2 ||
		so == contact.StatusMerged && *into1 == dup || sd == contact.StatusMerged && *into2 == orig {
		t.Fatalf("the undone pair was merged again through a third record: %s→%v, %s→%v", so, into1, sd, into2)
	}
	// The third record is the newest: merged with either, it is the one merged away. So
	// neither of the two can have been, as the check above made sure for the other cases.
	if so != contact.StatusActive || sd != contact.StatusActive {
		t.Fatalf("after the third record's check: %s→%v, %s→%v; both must stay active", so, into1, sd, into2)
	}
	if _, err := b.app.Contacts.UpdateContact(b.ctx, dup, contact.Update{Title: contact.Some("CEO")}); err != nil {
		t.Fatal(err)
	}
	if err := b.app.Contacts.Normalize(b.ctx, dup, "US", func(pgx.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	out, err = b.engine.CheckContact(b.ctx, dup)
	if err != nil || len(out.Merged) != 2 {
		t.Fatalf("check after a change: %+v %v", out, err)
	}
}

// TestCheckBatchMergesGroupsInBulk: an import batch's check merges each sure group once, through
// the bulk merge, leaves a different person alone and enqueues no check of the survivors.
func TestCheckBatchMergesGroupsInBulk(t *testing.T) {
	t.Parallel()
	b := setup(t)
	orig, dup := b.addSmithsons(t)
	dup2 := b.add(t, contact.NewContact{FirstName: "Rob", LastName: "Smithson", Email: "robert.smithson@acme-widgets.com", Company: "Acme Widgets"})
	other := b.add(t, contact.NewContact{FirstName: "Maria", LastName: "Gonzalez", Email: "maria.gonzalez@acme-widgets.com", Phone: "+1 415 555 0142", Company: "Acme Widgets Inc"})
	counting := &countingMerger{Merger: b.app.Merges}
	engine := &dedupe.Engine{Store: b.app.Dedupe, Contacts: b.app.Contacts, Merger: counting}
	if _, err := b.pool.Exec(b.ctx, `DELETE FROM river_job`); err != nil {
		t.Fatal(err)
	}
	out, err := engine.CheckBatch(b.ctx, []uuid.UUID{dup, dup2, other, orig})
	if err != nil {
		t.Fatal(err)
	}
	if out.Merges != 1 || counting.calls != 1 {
		t.Fatalf("outcome %+v after %d bulk calls", out, counting.calls)
	}
	for _, id := range []uuid.UUID{dup, dup2} {
		if s, into := b.status(t, id); s != contact.StatusMerged || into == nil || *into != orig {
			t.Errorf("%s: %s into %v, want merged into the oldest", id, s, into)
		}
	}
	if s, _ := b.status(t, other); s != contact.StatusActive {
		t.Errorf("a different person was merged")
	}
	// Maria shares the group's phone but the model is not sure of her with anyone in it: nothing
	// is left to a check of its own.
	var jobs int
	if err := b.pool.QueryRow(b.ctx, `SELECT count(*) FROM river_job`).Scan(&jobs); err != nil || jobs != 0 || out.Rechecks != 0 {
		t.Errorf("%d jobs enqueued, %d rechecks (%v), want none", jobs, out.Rechecks, err)
	}
}

// TestCheckBatchClustersLikeAScan: a batch record that matches an existing contact only through
// another record of the batch joins the same group in the batch's one clustering pass, as in a
// scan, with nothing left to a later check.
func TestCheckBatchClustersLikeAScan(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.add(t, contact.NewContact{FirstName: "Robert", LastName: "Smithson", Email: "robert.smithson@acme-widgets.com", Phone: "+1 415 555 0142", Company: "Acme Widgets Inc"})
	x := b.add(t, contact.NewContact{FirstName: "Robert", LastName: "Smithson", Email: "robert.smithson@acme-widgets.com", Company: "Acme Widgets"})
	d := b.add(t, contact.NewContact{FirstName: "Robert", LastName: "Smithson", Email: "bob@smithson.example", Phone: "(415) 555-0142", Company: "Acme Widgets"})
	if _, err := b.pool.Exec(b.ctx, `DELETE FROM river_job`); err != nil {
		t.Fatal(err)
	}
	out, err := b.engine.CheckBatch(b.ctx, []uuid.UUID{x, d})
	if err != nil || out.Contacts != 2 || out.Merges != 1 || out.Rechecks != 0 {
		t.Fatalf("batch: %+v %v", out, err)
	}
	for _, id := range []uuid.UUID{x, d} {
		if s, into := b.status(t, id); s != contact.StatusMerged || *into != c {
			t.Errorf("%s: %s into %v, want merged into %s", id, s, into, c)
		}
	}
	var queued int
	if err := b.pool.QueryRow(b.ctx, `SELECT count(*) FROM river_job WHERE kind = 'dedupe_contact'`).Scan(&queued); err != nil {
		t.Fatal(err)
	}
	if queued != 0 {
		t.Errorf("%d checks queued after the batch, want none", queued)
	}
}
