package webhook_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/event"
	"github.com/contactd/contactd/internal/secret"
	"github.com/contactd/contactd/webhook"
)

// Secrets are sealed under the key, plain ones written before the key are sealed by
// SealPlain, and deliveries of both are signed with the secret the client was shown.
func TestSecretsAreSealedUnderTheKey(t *testing.T) {
	t.Parallel()
	b := setup(t, webhook.DefaultBackoff...)
	rcPlain := newReceiver(t, func(int, received) int { return http.StatusNoContent })
	rcSealed := newReceiver(t, func(int, received) int { return http.StatusNoContent })
	// Written while the server had no key: stored as it is.
	plain, err := b.App.Webhooks.Create(b.Ctx, webhook.NewWebhook{URL: rcPlain.URL, Events: []string{event.ContactCreated}})
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := secret.ParseKey("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	if err != nil {
		t.Fatal(err)
	}
	b.App.Webhooks.SetSealer(sealer)
	if n, err := b.App.Webhooks.SealPlain(b.Ctx); err != nil || n != 1 {
		t.Fatalf("SealPlain = %d, %v; want the one plain secret sealed", n, err)
	}
	sealed, err := b.App.Webhooks.Create(b.Ctx, webhook.NewWebhook{URL: rcSealed.URL, Events: []string{event.ContactCreated}})
	if err != nil {
		t.Fatal(err)
	}
	var plainLeft, stored int
	if err := b.Pool.QueryRow(b.Ctx, `SELECT count(secret), count(secret_sealed) FROM webhooks`).Scan(&plainLeft, &stored); err != nil {
		t.Fatal(err)
	}
	if plainLeft != 0 || stored != 2 {
		t.Fatalf("%d plain and %d sealed secrets stored, want 0 and 2", plainLeft, stored)
	}
	var raw []byte
	if err := b.Pool.QueryRow(b.Ctx, `SELECT secret_sealed FROM webhooks WHERE id = $1`, sealed.ID).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if string(raw) == sealed.Secret || len(raw) < len(sealed.Secret) {
		t.Fatalf("sealed secret %q", raw)
	}
	if _, err := b.App.Contacts.CreateContact(b.Ctx, contact.NewContact{FirstName: "Ada"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rc     *receiver
		secret string
	}{{rcPlain, plain.Secret}, {rcSealed, sealed.Secret}} {
		got := tc.rc.waitOK(t, 1)
		if err := webhook.Verify(tc.secret, got[0].header, got[0].body, time.Now()); err != nil {
			t.Errorf("delivery not signed with the secret shown: %v", err)
		}
	}
	// A patched secret is sealed too and signs from then on.
	newSecret := "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	if _, err := b.App.Webhooks.Update(b.Ctx, sealed.ID, webhook.Patch{Secret: &newSecret}); err != nil {
		t.Fatal(err)
	}
	if err := b.Pool.QueryRow(b.Ctx, `SELECT count(secret) FROM webhooks`).Scan(&plainLeft); err != nil || plainLeft != 0 {
		t.Fatalf("a patched secret is stored plain (%d, %v)", plainLeft, err)
	}
	if _, err := b.App.Contacts.CreateContact(b.Ctx, contact.NewContact{FirstName: "Grace"}); err != nil {
		t.Fatal(err)
	}
	got := rcSealed.waitOK(t, 2)
	if err := webhook.Verify(newSecret, got[1].header, got[1].body, time.Now()); err != nil {
		t.Errorf("delivery after the patch not signed with the new secret: %v", err)
	}
}
