package retention_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/contactd/contactd/communication"
	"github.com/contactd/contactd/internal/apptest"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/internal/runs"
	"github.com/contactd/contactd/retention"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/rivertest"
)

func TestPolicyValidationAndCRUD(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.rs.Create(b.ctx, retention.NewPolicy{Name: " ", Action: "shred", Filter: json.RawMessage(`{"inactiveDays": 0, "x": 1}`), Schedule: "soon"})
	de := apptest.RequireKind(t, err, db.KindInvalid)
	var fields []string
	for _, f := range de.Fields {
		fields = append(fields, f.Field)
	}
	slices.Sort(fields)
	if want := []string{"action", "filter.inactiveDays", "filter.x", "name", "schedule"}; !slices.Equal(fields, want) {
		t.Fatalf("fields %v, want %v", fields, want)
	}
	_, err = b.rs.Create(b.ctx, retention.NewPolicy{Name: "fast", Action: "archive", Schedule: "30s"})
	apptest.RequireKind(t, err, db.KindInvalid)

	p, err := b.rs.Create(b.ctx, retention.NewPolicy{Name: "stale", Action: "archive", Filter: json.RawMessage(`{"inactiveDays": 730}`), Schedule: "24h"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Schedule != 24*time.Hour || p.NextDueAt == nil || *p.Criteria.InactiveDays != 730 {
		t.Fatalf("created %+v", p)
	}
	empty := ""
	p2, err := b.rs.Update(b.ctx, p.ID, retention.Patch{Schedule: &empty, Filter: json.RawMessage(`{"noLawfulBasis": true}`)})
	if err != nil {
		t.Fatal(err)
	}
	if p2.Schedule != 0 || p2.NextDueAt != nil || p2.Criteria.InactiveDays != nil || !*p2.Criteria.NoLawfulBasis || p2.Version != 2 {
		t.Fatalf("updated %+v", p2)
	}
	bad := "delete"
	_, err = b.rs.Update(b.ctx, p.ID, retention.Patch{Action: &bad})
	apptest.RequireKind(t, err, db.KindInvalid)
	ps, err := b.rs.List(b.ctx)
	if err != nil || len(ps) != 1 {
		t.Fatalf("list: %d, %v", len(ps), err)
	}
	if err := b.rs.Delete(b.ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	_, err = b.rs.Get(b.ctx, p.ID)
	apptest.RequireKind(t, err, db.KindNotFound)
}

func TestFilterSelects(t *testing.T) {
	t.Parallel()
	b := setup(t)
	old := b.newContact(t, "old", 400)
	fresh := b.newContact(t, "fresh", 10)
	oldTagged := b.newContact(t, "oldtagged", 400, "VIP")
	// Old contacts with something recent: an audited change, a communication, a consent event.
	oldChanged := b.newContact(t, "oldchanged", 400)
	b.exec(t, `INSERT INTO audit_log (actor, action, entity_type, entity_id, contact_id) VALUES ('t', 'tag', 'contact', $1, $1)`, oldChanged)
	oldTalked := b.newContact(t, "oldtalked", 400)
	if _, err := b.app.Communications.Record(b.ctx, oldTalked, communication.NewCommunication{Channel: "email", Direction: "inbound",
		Subject: "hi", OccurredAt: time.Now().AddDate(0, 0, -3)}); err != nil {
		t.Fatal(err)
	}
	b.age(t, oldTalked, 400) // the recording's own audit entry is old too: only the communication is recent
	oldConsented := b.newContact(t, "oldconsented", 400)
	b.consent(t, oldConsented, "withdrawn")
	b.age(t, oldConsented, 400)
	// Consent: a grant, a withdrawal only, a grant on a record merged into the contact.
	granted := b.newContact(t, "granted", 400)
	b.consent(t, granted, "granted")
	b.age(t, granted, 400)
	b.exec(t, `UPDATE consent_events SET captured_at = now() - interval '400 days' WHERE contact_id = $1`, granted)
	survivor := b.newContact(t, "survivor", 1)
	mergedIn := b.newContact(t, "mergedin", 1)
	b.consent(t, mergedIn, "granted")
	b.merge(t, survivor, mergedIn)
	archived := b.newContact(t, "archived", 400)
	if err := b.app.Contacts.ArchiveContact(b.ctx, archived); err != nil {
		t.Fatal(err)
	}
	b.age(t, archived, 400)

	for _, tc := range []struct {
		filter string
		want   []uuid.UUID
	}{
		{`{"inactiveDays": 365}`, []uuid.UUID{old, oldTagged, granted}},
		{`{"inactiveDays": 365, "tag": "vip"}`, []uuid.UUID{oldTagged}},
		{`{"inactiveDays": 365, "status": "archived"}`, []uuid.UUID{archived}},
		{`{"inactiveDays": 365, "status": "all"}`, []uuid.UUID{old, oldTagged, granted, archived}},
		{`{"noLawfulBasis": true}`, []uuid.UUID{old, fresh, oldTagged, oldChanged, oldTalked, oldConsented}},
		{`{"noLawfulBasis": false}`, []uuid.UUID{granted, survivor}},
		{`{"noLawfulBasis": true, "inactiveDays": 365}`, []uuid.UUID{old, oldTagged}},
		{`{}`, []uuid.UUID{old, fresh, oldTagged, oldChanged, oldTalked, oldConsented, granted, survivor}},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			p := b.policy(t, "archive", tc.filter)
			got := b.dryRun(t, p)
			want := sorted(tc.want)
			if tc.filter == `{"inactiveDays": 365, "status": "archived"}` || tc.filter == `{"inactiveDays": 365, "status": "all"}` {
				// Archiving changes only active contacts: the archived one is never selected.
				want = slices.DeleteFunc(want, func(id uuid.UUID) bool { return id == archived })
			}
			if got.Matched != int64(len(want)) || !slices.Equal(got.ContactIDs, want) {
				t.Fatalf("matched %d %v, want %v", got.Matched, got.ContactIDs, want)
			}
		})
	}
}

func TestArchiveRunChangesWhatTheDryRunListed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.rs.BatchSize = 3 // several batches
	var stale []uuid.UUID
	for i := range 8 {
		stale = append(stale, b.newContact(t, "stale"+string(rune('a'+i)), 800))
	}
	b.newContact(t, "recent", 5)
	p := b.policy(t, "archive", `{"inactiveDays": 365}`)
	dry := b.dryRun(t, p)
	if dry.Matched != 8 || !slices.Equal(dry.ContactIDs, sorted(stale)) {
		t.Fatalf("dry run %d %v", dry.Matched, dry.ContactIDs)
	}
	if n := b.count(t, `SELECT count(*) FROM contacts WHERE status = 'archived'`); n != 0 {
		t.Fatalf("the dry run archived %d contacts", n)
	}
	run := b.run(t, p)
	if run.Status != runs.Succeeded || run.Matched != 8 || run.Processed != 8 || run.StartedAt == nil || run.FinishedAt == nil {
		t.Fatalf("run %+v", run)
	}
	if got := b.audited(t, p, "archive"); !slices.Equal(got, dry.ContactIDs) {
		t.Fatalf("archived %v, dry run listed %v", got, dry.ContactIDs)
	}
	if n := b.count(t, `SELECT count(*) FROM contacts WHERE status = 'archived' AND id = ANY($1)`, stale); n != 8 {
		t.Fatalf("%d archived", n)
	}
	// Archived contacts become events like any archive.
	if n := b.count(t, `SELECT count(*) FROM events WHERE type = 'contact.archived'`); n != 8 {
		t.Fatalf("%d contact.archived events", n)
	}
	// Nothing is left to do.
	if again := b.dryRun(t, p); again.Matched != 0 {
		t.Fatalf("after the run the dry run matches %d", again.Matched)
	}
	got, err := b.rs.GetRun(b.ctx, p.ID, run.ID)
	if err != nil || got.Processed != 8 || got.Status != runs.Succeeded {
		t.Fatalf("get run %+v, %v", got, err)
	}
}

func (b bundle) count(t testing.TB, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := b.pool.QueryRow(b.ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// flakyEraser fails its call number failOn (from 1) and erases through next (the app's
// erasure) otherwise, as a process killed in the middle of a batch would leave it: that batch
// rolled back.
type flakyEraser struct {
	next          retention.Eraser
	calls, failOn int
}

func (f *flakyEraser) EraseTx(ctx context.Context, tx pgx.Tx, ids []uuid.UUID, actor string) error {
	f.calls++
	if f.calls == f.failOn {
		return errors.New("killed")
	}
	return f.next.EraseTx(ctx, tx, ids, actor)
}

func TestEraseRunResumesAfterItsLastCommittedBatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.rs.BatchSize = 2
	var stale []uuid.UUID
	for i := range 7 {
		stale = append(stale, b.newContact(t, "gone"+string(rune('a'+i)), 800))
	}
	kept := b.newContact(t, "kept", 800)
	b.consent(t, kept, "granted")
	b.age(t, kept, 800)
	b.exec(t, `UPDATE consent_events SET captured_at = now() - interval '800 days' WHERE contact_id = $1`, kept)
	b.rs.SetEraser(&flakyEraser{next: b.app.Erasure, failOn: 3})
	p := b.policy(t, "erase", `{"inactiveDays": 365, "noLawfulBasis": true}`)
	dry := b.dryRun(t, p)
	if dry.Matched != 7 {
		t.Fatalf("dry run matched %d", dry.Matched)
	}
	run, _, err := b.rs.StartRun(b.ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	rivertest.RequireInserted(b.ctx, t, b.app.DB.Jobs.Driver(), retention.RunArgs{PolicyID: p.ID, RunID: run.ID}, nil)
	if _, err := b.rs.Execute(b.ctx, run.ID); err == nil {
		t.Fatal("the run went through a failing batch")
	}
	mid, err := b.rs.GetRun(b.ctx, p.ID, run.ID)
	if err != nil || mid.Status != runs.Running || mid.Processed != 4 || mid.Matched != 7 {
		t.Fatalf("after the failure: %+v, %v", mid, err)
	}
	// The job's retry goes on after the committed batches.
	done, err := b.rs.Execute(b.ctx, run.ID)
	if err != nil || done.Status != runs.Succeeded || done.Processed != 7 {
		t.Fatalf("resumed: %+v, %v", done, err)
	}
	erased := b.audited(t, p, "erase")
	if !slices.Equal(erased, dry.ContactIDs) {
		t.Fatalf("erased %v (each once), dry run listed %v", erased, dry.ContactIDs)
	}
	if n := b.count(t, `SELECT count(*) FROM contacts WHERE id = ANY($1) AND (first_name IS NOT NULL OR email IS NOT NULL)`, stale); n != 0 {
		t.Fatalf("%d contacts kept their data", n)
	}
	if n := b.count(t, `SELECT count(*) FROM contacts WHERE id = $1 AND email IS NOT NULL`, kept); n != 1 {
		t.Fatal("the contact with a grant was erased")
	}
}

func TestPurgeCommunications(t *testing.T) {
	t.Parallel()
	b := setup(t)
	talked := b.newContact(t, "talked", 800)
	silent := b.newContact(t, "silent", 800)
	for range 3 {
		if _, err := b.app.Communications.Record(b.ctx, talked, communication.NewCommunication{Channel: "phone", Direction: "outbound",
			Subject: "call", OccurredAt: time.Now().AddDate(-3, 0, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	b.age(t, talked, 800)
	p := b.policy(t, "purge_communications", `{"inactiveDays": 365}`)
	dry := b.dryRun(t, p)
	if dry.Matched != 1 || dry.ContactIDs[0] != talked {
		t.Fatalf("dry run %+v (the silent contact %s has nothing to purge)", dry, silent)
	}
	run := b.run(t, p)
	if run.Processed != 1 {
		t.Fatalf("run %+v", run)
	}
	if n := b.count(t, `SELECT count(*) FROM communications`); n != 0 {
		t.Fatalf("%d communications left", n)
	}
	var changes string
	if err := b.pool.QueryRow(b.ctx, `SELECT changes::text FROM audit_log WHERE actor = $1 AND contact_id = $2 AND action = 'purge_communications'`,
		retention.Actor(p.ID), talked).Scan(&changes); err != nil || changes != `{"communications": {"after": 0, "before": 3}}` {
		t.Fatalf("audit %s, %v", changes, err)
	}
	if n := b.count(t, `SELECT count(*) FROM contacts WHERE status = 'active'`); n != 2 {
		t.Fatalf("purging changed the contacts: %d active", n)
	}
}

func TestErasePoliciesNeedAnEraser(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.rs.SetEraser(nil) // the app sets package erasure's
	b.newContact(t, "someone", 800)
	p := b.policy(t, "erase", `{}`)
	_, err := b.rs.DryRun(b.ctx, p.ID)
	apptest.RequireKind(t, err, db.KindConflict)
	_, _, err = b.rs.StartRun(b.ctx, p.ID)
	apptest.RequireKind(t, err, db.KindConflict)
}

func TestOneRunPerPolicyAtATime(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.policy(t, "archive", `{}`)
	first, started, err := b.rs.StartRun(b.ctx, p.ID)
	if err != nil || !started {
		t.Fatal(started, err)
	}
	second, started, err := b.rs.StartRun(b.ctx, p.ID)
	if err != nil || started || second.ID != first.ID {
		t.Fatalf("second start: %v %v, %v", second.ID, started, err)
	}
	err = b.rs.Delete(b.ctx, p.ID)
	apptest.RequireKind(t, err, db.KindConflict)
	if _, err := b.rs.Execute(b.ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	third, started, err := b.rs.StartRun(b.ctx, p.ID)
	if err != nil || !started || third.ID == first.ID {
		t.Fatalf("after the first ended: %v %v, %v", third.ID, started, err)
	}
	runs, next, err := b.rs.ListRuns(b.ctx, p.ID, 10, nil)
	if err != nil || len(runs) != 2 || next != nil || runs[0].ID != third.ID {
		t.Fatalf("runs %d, %v", len(runs), err)
	}
	// Concurrent starts make one run.
	q := b.policy(t, "archive", `{}`)
	ids := make(chan uuid.UUID, 8)
	for range 8 {
		go func() {
			r, _, err := b.rs.StartRun(context.WithoutCancel(b.ctx), q.ID)
			if err != nil {
				t.Error(err)
				ids <- uuid.Nil
				return
			}
			ids <- r.ID
		}()
	}
	seen := map[uuid.UUID]bool{}
	for range 8 {
		seen[<-ids] = true
	}
	if len(seen) != 1 {
		t.Fatalf("concurrent starts made %d runs", len(seen))
	}
}

func TestScheduledPoliciesAreQueuedWhenDue(t *testing.T) {
	t.Parallel()
	b := setup(t)
	due, err := b.rs.Create(b.ctx, retention.NewPolicy{Name: "nightly", Action: "archive", Filter: json.RawMessage(`{"inactiveDays": 365}`), Schedule: "24h"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.rs.Create(b.ctx, retention.NewPolicy{Name: "later", Action: "archive", Schedule: "24h"}); err != nil {
		t.Fatal(err)
	}
	b.policy(t, "archive", `{}`) // on demand only
	b.exec(t, `UPDATE retention_policies SET next_due_at = now() - interval '1 minute' WHERE id = $1`, due.ID)
	n, err := b.rs.EnqueueDue(b.ctx)
	if err != nil || n != 1 {
		t.Fatalf("queued %d, %v", n, err)
	}
	p, _ := b.rs.Get(b.ctx, due.ID)
	if p.NextDueAt == nil || time.Until(*p.NextDueAt) < 23*time.Hour {
		t.Fatalf("next due %v", p.NextDueAt)
	}
	got, _, err := b.rs.ListRuns(b.ctx, due.ID, 10, nil)
	if err != nil || len(got) != 1 || got[0].Status != runs.Queued {
		t.Fatalf("runs %+v, %v", got, err)
	}
	if n, err := b.rs.EnqueueDue(b.ctx); err != nil || n != 0 {
		t.Fatalf("queued %d again, %v", n, err)
	}
}

// A run keeps the policy it was queued with: editing the policy meanwhile changes nothing.
func TestRunKeepsItsPolicy(t *testing.T) {
	t.Parallel()
	b := setup(t)
	stale := b.newContact(t, "stale", 800)
	b.newContact(t, "fresh", 1)
	p := b.policy(t, "archive", `{"inactiveDays": 365}`)
	run, _, err := b.rs.StartRun(b.ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.rs.Update(b.ctx, p.ID, retention.Patch{Filter: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	done, err := b.rs.Execute(b.ctx, run.ID)
	if err != nil || done.Processed != 1 {
		t.Fatalf("%+v, %v", done, err)
	}
	if got := b.audited(t, p, "archive"); !slices.Equal(got, []uuid.UUID{stale}) {
		t.Fatalf("archived %v", got)
	}
}
