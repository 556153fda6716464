package retention_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/contactd/contactd/consent"
	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/app"
	"github.com/contactd/contactd/internal/apptest"
	"github.com/contactd/contactd/merge"
	"github.com/contactd/contactd/retention"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// bundle is what a retention test needs: the stores over a fresh database.
type bundle struct {
	ctx  context.Context
	pool *pgxpool.Pool
	app  *app.App
	rs   *retention.Store
}

func setup(t testing.TB) bundle {
	t.Helper()
	a := apptest.New(t)
	return bundle{ctx: a.Ctx, pool: a.Pool, app: a.App, rs: a.App.Retention}
}

// newContact creates an active contact, made to look last touched daysAgo days ago (its row and
// its audit trail).
func (b bundle) newContact(t testing.TB, name string, daysAgo int, tags ...string) uuid.UUID {
	t.Helper()
	c, err := b.app.Contacts.CreateContact(b.ctx, contact.NewContact{FirstName: name, Email: name + "@example.com",
		AllowDuplicate: true, Tags: tags})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	b.age(t, c.ID, daysAgo)
	return c.ID
}

// age moves a contact's row and audit trail daysAgo days back.
func (b bundle) age(t testing.TB, id uuid.UUID, daysAgo int) {
	t.Helper()
	at := time.Now().AddDate(0, 0, -daysAgo)
	b.exec(t, `UPDATE contacts SET updated_at = $2, created_at = $2 WHERE id = $1`, id, at)
	b.exec(t, `UPDATE audit_log SET at = $2 WHERE contact_id = $1`, id, at)
}

func (b bundle) exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if _, err := b.pool.Exec(b.ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func (b bundle) policy(t testing.TB, action, filter string) *retention.Policy {
	t.Helper()
	p, err := b.rs.Create(b.ctx, retention.NewPolicy{Name: "p " + action, Action: action, Filter: json.RawMessage(filter)})
	if err != nil {
		t.Fatalf("create policy %s %s: %v", action, filter, err)
	}
	return p
}

func (b bundle) dryRun(t testing.TB, p *retention.Policy) *retention.DryRunResult {
	t.Helper()
	r, err := b.rs.DryRun(b.ctx, p.ID)
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	return r
}

// run queues a run of p and works it to its end as the worker would.
func (b bundle) run(t testing.TB, p *retention.Policy) *retention.Run {
	t.Helper()
	run, started, err := b.rs.StartRun(b.ctx, p.ID)
	if err != nil || !started {
		t.Fatalf("start run: started %v, %v", started, err)
	}
	out, err := b.rs.Execute(b.ctx, run.ID)
	if err != nil {
		t.Fatalf("execute run: %v", err)
	}
	return out
}

// audited returns the contacts audited with action by the policy, sorted.
func (b bundle) audited(t testing.TB, p *retention.Policy, action string) []uuid.UUID {
	t.Helper()
	rows, err := b.pool.Query(b.ctx, `SELECT contact_id FROM audit_log WHERE actor = $1 AND action = $2 ORDER BY contact_id`,
		retention.Actor(p.ID), action)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func (b bundle) merge(t testing.TB, survivor uuid.UUID, others ...uuid.UUID) {
	t.Helper()
	if _, err := b.app.Merges.Merge(b.ctx, merge.Request{ContactIDs: append([]uuid.UUID{survivor}, others...), SurvivorID: &survivor}); err != nil {
		t.Fatalf("merge: %v", err)
	}
}

func (b bundle) consent(t testing.TB, id uuid.UUID, status string) {
	t.Helper()
	if _, err := b.app.Consent.RecordEvent(b.ctx, id, consent.NewEvent{Channel: "email", Purpose: "marketing", Status: status,
		CapturedAt: time.Now().Add(-time.Minute)}); err != nil {
		t.Fatalf("consent %s on %s: %v", status, id, err)
	}
}

func sorted(ids []uuid.UUID) []uuid.UUID {
	out := slices.Clone(ids)
	slices.SortFunc(out, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	return out
}
