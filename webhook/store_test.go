package webhook_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/contactd/contactd/event"
	"github.com/contactd/contactd/internal/apptest"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/webhook"
)

func TestCreateRefusesBadFieldsAndPrivateAddresses(t *testing.T) {
	t.Parallel()
	b := apptest.New(t)
	for _, tc := range []struct {
		name   string
		in     webhook.NewWebhook
		fields []string
	}{
		{"loopback", webhook.NewWebhook{URL: "http://127.0.0.1:9/x", Events: []string{event.ContactCreated}}, []string{"url"}},
		{"localhost", webhook.NewWebhook{URL: "http://localhost/x", Events: []string{event.ContactCreated}}, []string{"url"}},
		{"private", webhook.NewWebhook{URL: "https://10.1.2.3/x", Events: []string{event.ContactCreated}}, []string{"url"}},
		{"link-local metadata", webhook.NewWebhook{URL: "http://169.254.169.254/latest", Events: []string{event.ContactCreated}}, []string{"url"}},
		{"ipv6 loopback", webhook.NewWebhook{URL: "http://[::1]/", Events: []string{event.ContactCreated}}, []string{"url"}},
		{"ipv4-mapped private", webhook.NewWebhook{URL: "http://[::ffff:192.168.1.1]/", Events: []string{event.ContactCreated}}, []string{"url"}},
		{"not http", webhook.NewWebhook{URL: "ftp://example.com/", Events: []string{event.ContactCreated}}, []string{"url"}},
		{"everything wrong", webhook.NewWebhook{URL: "nope", Events: []string{"contact.deleted", event.ContactCreated, event.ContactCreated}, Secret: "plain"},
			[]string{"url", "events[0]", "events[2]", "secret"}},
		{"no events", webhook.NewWebhook{URL: "http://192.168.0.1/"}, []string{"url", "events"}},
		{"short secret", webhook.NewWebhook{URL: "http://[fe80::1]/", Events: []string{event.ImportFinished}, Secret: "whsec_c2hvcnQ="}, []string{"url", "secret"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := b.App.Webhooks.Create(b.Ctx, tc.in)
			de := apptest.RequireKind(t, err, db.KindInvalid)
			var got []string
			for _, f := range de.Fields {
				got = append(got, f.Field)
			}
			if strings.Join(got, ",") != strings.Join(tc.fields, ",") {
				t.Fatalf("fields %v (%v), want %v", got, de.Fields, tc.fields)
			}
		})
	}
	if n := b.Count(t, `SELECT count(*) FROM webhooks`); n != 0 {
		t.Fatalf("%d webhooks stored", n)
	}
}

func TestSecretIsShownOnceAndPatchWorks(t *testing.T) {
	t.Parallel()
	b := apptest.New(t)
	b.App.Webhooks.SetGuard(webhook.Guard{AllowPrivate: true})
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	w, err := b.App.Webhooks.Create(b.Ctx, webhook.NewWebhook{URL: "http://127.0.0.1:9/", Events: []string{event.ContactCreated}, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	if w.Secret != secret || !w.Active {
		t.Fatalf("created %+v", w)
	}
	got, err := b.App.Webhooks.Get(b.Ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Secret != "" {
		t.Fatal("Get returns the secret")
	}
	off, events := false, []string{event.ContactMerged, event.ContactUnmerged}
	got, err = b.App.Webhooks.Update(b.Ctx, w.ID, webhook.Patch{Active: &off, Events: &events})
	if err != nil {
		t.Fatal(err)
	}
	if got.Active || strings.Join(got.Events, ",") != "contact.merged,contact.unmerged" || got.URL != w.URL || got.Secret != "" {
		t.Fatalf("patched %+v", got)
	}
	bad := "http://10.0.0.1/"
	b.App.Webhooks.SetGuard(webhook.Guard{})
	_, err = b.App.Webhooks.Update(b.Ctx, w.ID, webhook.Patch{URL: &bad})
	apptest.RequireKind(t, err, db.KindInvalid)
	if err := b.App.Webhooks.Delete(b.Ctx, w.ID); err != nil {
		t.Fatal(err)
	}
	_, err = b.App.Webhooks.Get(b.Ctx, w.ID)
	apptest.RequireKind(t, err, db.KindNotFound)
}

// TestDeliveryRefusesPrivateAddresses proves the guard also holds at connection time: a
// webhook stored while private addresses were allowed is not delivered once they are not.
func TestDeliveryRefusesPrivateAddresses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rc := newReceiver(t, func(int, received) int { return http.StatusOK })
	w, err := b.App.Webhooks.Create(b.Ctx, webhook.NewWebhook{URL: rc.URL, Events: []string{event.ImportFinished}})
	if err != nil {
		t.Fatal(err)
	}
	b.App.Webhooks.SetGuard(webhook.Guard{})
	tx, err := b.Pool.Begin(b.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := event.Emit(b.Ctx, tx, event.ImportFinished, nil, map[string]int{"created": 1}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(b.Ctx); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		ds, _, err := b.App.Webhooks.Deliveries(b.Ctx, w.ID, nil, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) > 0 {
			if ds[0].Status != webhook.StatusFailed || ds[0].Error == nil || !strings.Contains(*ds[0].Error, "refused to connect") {
				t.Fatalf("delivery %+v", ds[0])
			}
			rc.mu.Lock()
			defer rc.mu.Unlock()
			if len(rc.got) != 0 {
				t.Fatal("the receiver was reached")
			}
			return
		}
	}
	t.Fatal("no delivery attempt")
}
