package webhook_test

import (
	"testing"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/event"
	"github.com/contactd/contactd/internal/apptest"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/webhook"
	"github.com/google/uuid"
)

// Retention deletes old events only once every active webhook has finished with them, the
// feed answers a cursor from before the deleted ones with KindGone, and numbering goes on
// after the deleted events even when none is left.
func TestRetentionKeepsWhatWebhooksStillNeed(t *testing.T) {
	t.Parallel()
	b := apptest.New(t)
	b.App.Webhooks.SetGuard(webhook.Guard{AllowPrivate: true})
	create := func(n int) {
		for range n {
			if _, err := b.App.Contacts.CreateContact(b.Ctx, contact.NewContact{FirstName: "Ada", AllowDuplicate: true}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := event.Sequence(b.Ctx, b.App.DB); err != nil {
			t.Fatal(err)
		}
	}
	create(3)
	// A webhook created now has finished with seqs 1-3; one made to lag at seq 2 holds 3 back.
	w, err := b.App.Webhooks.Create(b.Ctx, webhook.NewWebhook{URL: "http://127.0.0.1:1/hook", Events: []string{event.ContactCreated}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Pool.Exec(b.Ctx, `UPDATE webhooks SET cursor = 2 WHERE id = $1`, w.ID); err != nil {
		t.Fatal(err)
	}
	create(2)
	age := func(hours int) {
		if _, err := b.Pool.Exec(b.Ctx, `UPDATE events SET occurred_at = now() - make_interval(hours => $1)`, hours); err != nil {
			t.Fatal(err)
		}
	}
	age(48)
	if n, err := b.App.Webhooks.PruneEvents(b.Ctx, 72*time.Hour); err != nil || n != 0 {
		t.Fatalf("pruned %d (%v) events younger than the retention", n, err)
	}
	if n, err := b.App.Webhooks.PruneEvents(b.Ctx, 24*time.Hour); err != nil || n != 2 {
		t.Fatalf("pruned %d (%v), want the 2 the lagging webhook has finished with", n, err)
	}
	feed := event.NewFeed(b.App.DB)
	if _, _, err := feed.Changes(b.Ctx, 1, 10); db.ErrorKind(err) != db.KindGone {
		t.Fatalf("a cursor before the deleted events: %v, want KindGone", err)
	}
	evs, _, err := feed.Changes(b.Ctx, 2, 10)
	if err != nil || len(evs) != 3 || evs[0].Seq != 3 {
		t.Fatalf("from the horizon: %d events (%v), want seqs 3-5", len(evs), err)
	}
	if evs, _, err := feed.Changes(b.Ctx, 0, 10); err != nil || len(evs) != 3 {
		t.Fatalf("from 0: %d events (%v), want the 3 kept", len(evs), err)
	}
	// With the webhook inactive nothing holds events back: all go, and numbering goes on.
	inactive := false
	if _, err := b.App.Webhooks.Update(b.Ctx, w.ID, webhook.Patch{Active: &inactive}); err != nil {
		t.Fatal(err)
	}
	if n, err := b.App.Webhooks.PruneEvents(b.Ctx, 24*time.Hour); err != nil || n != 3 {
		t.Fatalf("pruned %d (%v), want the 3 left", n, err)
	}
	create(1)
	evs, _, err = feed.Changes(b.Ctx, 5, 10)
	if err != nil || len(evs) != 1 || evs[0].Seq != 6 {
		t.Fatalf("after pruning everything: %+v (%v), want one event of seq 6", evs, err)
	}
	var left int
	if err := b.Pool.QueryRow(b.Ctx, `SELECT count(*) FROM events WHERE contact_id <> $1`, uuid.Nil).Scan(&left); err != nil || left != 1 {
		t.Fatalf("%d events left (%v)", left, err)
	}
}
