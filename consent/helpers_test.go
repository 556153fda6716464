package consent_test

import (
	"context"
	"testing"
	"time"

	"github.com/contactd/contactd/consent"
	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/app"
	"github.com/contactd/contactd/internal/apptest"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/merge"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// bundle is what a consent test needs: the stores over a fresh database.
type bundle struct {
	ctx  context.Context
	pool *pgxpool.Pool
	app  *app.App
	cs   *consent.Store
}

func setup(t testing.TB) bundle {
	t.Helper()
	a := apptest.New(t)
	return bundle{ctx: a.Ctx, pool: a.Pool, app: a.App, cs: a.App.Consent}
}

// newContact creates an active contact with an email and a phone.
func (b bundle) newContact(t testing.TB, name string) uuid.UUID {
	t.Helper()
	c, err := b.app.Contacts.CreateContact(b.ctx, contact.NewContact{FirstName: name, Email: name + "@example.com",
		Phone: "+1 415 555 0100", AllowDuplicate: true})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return c.ID
}

func (b bundle) record(t testing.TB, id uuid.UUID, e consent.NewEvent) *consent.Event {
	t.Helper()
	ev, err := b.cs.RecordEvent(b.ctx, id, e)
	if err != nil {
		t.Fatalf("record %+v on %s: %v", e, id, err)
	}
	return ev
}

func grant(channel, purpose string, at time.Time) consent.NewEvent {
	return consent.NewEvent{Channel: channel, Purpose: purpose, Status: consent.Granted, CapturedAt: at}
}

func withdraw(channel, purpose string, at time.Time) consent.NewEvent {
	return consent.NewEvent{Channel: channel, Purpose: purpose, Status: consent.Withdrawn, CapturedAt: at}
}

func (b bundle) reach(t testing.TB, id uuid.UUID, channel, purpose string) consent.Answer {
	t.Helper()
	a, err := b.cs.Reachable(b.ctx, id, channel, purpose)
	if err != nil {
		t.Fatalf("reachable %s %s/%s: %v", id, channel, purpose, err)
	}
	return *a
}

func (b bundle) merge(t testing.TB, survivor uuid.UUID, others ...uuid.UUID) uuid.UUID {
	t.Helper()
	m, err := b.app.Merges.Merge(b.ctx, merge.Request{ContactIDs: append([]uuid.UUID{survivor}, others...), SurvivorID: &survivor})
	if err != nil {
		t.Fatalf("merge: %v", err)
	}
	return m.ID
}

func (b bundle) undo(t testing.TB, mergeID uuid.UUID) {
	t.Helper()
	if _, _, err := b.app.Merges.UndoMerge(b.ctx, mergeID); err != nil {
		t.Fatalf("undo: %v", err)
	}
}

func (b bundle) exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if _, err := b.pool.Exec(b.ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func requireKind(t testing.TB, err error, kind db.Kind) *db.Error {
	t.Helper()
	return apptest.RequireKind(t, err, kind)
}

func fieldsOf(e *db.Error) []string {
	out := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		out[i] = f.Field
	}
	return out
}
