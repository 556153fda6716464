package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/event"
	"github.com/contactd/contactd/internal/apptest"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/webhook"
	"github.com/contactd/contactd/worker"
	"github.com/google/uuid"
)

// received is one request a test receiver got.
type received struct {
	header http.Header
	body   []byte
	msg    struct {
		ID         string          `json:"id"`
		Type       string          `json:"type"`
		OccurredAt time.Time       `json:"occurredAt"`
		Data       json.RawMessage `json:"data"`
	}
}

// receiver is an httptest server that records what it is sent and answers with the status
// its answer function returns for the n-th request (from 0).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	ok     []received // the requests it answered with 2xx
	answer func(n int, r received) int
}

func newReceiver(t testing.TB, answer func(n int, r received) int) *receiver {
	rc := &receiver{answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		in := received{header: r.Header.Clone(), body: body}
		if err := json.Unmarshal(body, &in.msg); err != nil {
			t.Errorf("body %s: %v", body, err)
		}
		rc.mu.Lock()
		n := len(rc.got)
		rc.got = append(rc.got, in)
		status := rc.answer(n, in)
		if status/100 == 2 {
			rc.ok = append(rc.ok, in)
		}
		rc.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// waitOK waits until the receiver has accepted n requests and returns them.
func (rc *receiver) waitOK(t *testing.T, n int) []received {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		rc.mu.Lock()
		got := append([]received(nil), rc.ok...)
		rc.mu.Unlock()
		if len(got) >= n {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	t.Fatalf("the receiver accepted %d of %d requests (%d in all)", len(rc.ok), n, len(rc.got))
	return nil
}

// setup gives the test a database whose webhooks may reach loopback, with the workers and the
// dispatcher running and the retry waits shortened to waits.
func setup(t testing.TB, waits ...time.Duration) apptest.Bundle {
	t.Helper()
	b := apptest.New(t)
	b.App.Webhooks.SetGuard(webhook.Guard{AllowPrivate: true})
	b.App.Webhooks.SetBackoff(waits)
	client, err := worker.NewClient(b.App, worker.Config{DefaultRegion: "US", MaxWorkers: 4})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		(&webhook.Dispatcher{DB: b.App.DB, Interval: 100 * time.Millisecond}).Run(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = client.Stop(context.Background())
	})
	return b
}

func types(rs []received) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.msg.Type)
	}
	return out
}

func TestDeliveryIsSignedAndInOrder(t *testing.T) {
	t.Parallel()
	b := setup(t, webhook.DefaultBackoff...)
	rc := newReceiver(t, func(int, received) int { return http.StatusNoContent })
	w, err := b.App.Webhooks.Create(b.Ctx, webhook.NewWebhook{URL: rc.URL + "/hook", Events: []string{event.ContactCreated, event.ContactUpdated, event.ContactArchived}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(w.Secret, "whsec_") {
		t.Fatalf("generated secret %q", w.Secret)
	}
	c, err := b.App.Contacts.CreateContact(b.Ctx, contact.NewContact{FirstName: "Ada", Email: "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	for _, title := range []string{"CTO", "CEO", "Chair"} {
		if _, err := b.App.Contacts.UpdateContact(b.Ctx, c.ID, contact.Update{Title: contact.Some(title)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.App.Contacts.ArchiveContact(b.Ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	got := rc.waitOK(t, 5)
	want := []string{event.ContactCreated, event.ContactUpdated, event.ContactUpdated, event.ContactUpdated, event.ContactArchived}
	if strings.Join(types(got), " ") != strings.Join(want, " ") {
		t.Fatalf("received %v, want %v", types(got), want)
	}
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(w.Secret, "whsec_"))
	for i, r := range got {
		if err := webhook.Verify(w.Secret, r.header, r.body, time.Now()); err != nil {
			t.Errorf("request %d: %v", i, err)
		}
		// The signature by hand, as the Standard Webhooks scheme defines it.
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(r.header.Get("Webhook-Id") + "." + r.header.Get("Webhook-Timestamp") + "." + string(r.body)))
		if want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)); r.header.Get("Webhook-Signature") != want {
			t.Errorf("request %d: signature %q, want %q", i, r.header.Get("Webhook-Signature"), want)
		}
		if r.msg.ID != r.header.Get("Webhook-Id") || r.msg.OccurredAt.IsZero() {
			t.Errorf("request %d: body id %q, header %q, occurredAt %v", i, r.msg.ID, r.header.Get("Webhook-Id"), r.msg.OccurredAt)
		}
	}
	if err := webhook.Verify(w.Secret, got[0].header, append([]byte(" "), got[0].body...), time.Now()); err == nil {
		t.Error("a changed body verifies")
	}
	var upd struct {
		ContactID uuid.UUID                 `json:"contactId"`
		Changes   map[string]contact.Change `json:"changes"`
	}
	if err := json.Unmarshal(got[2].msg.Data, &upd); err != nil || upd.ContactID != c.ID || upd.Changes["title"].Before != "CTO" || upd.Changes["title"].After != "CEO" {
		t.Errorf("second update's data %s (%v)", got[2].msg.Data, err)
	}
}

func TestFailedAttemptsAreRetriedInOrder(t *testing.T) {
	t.Parallel()
	b := setup(t, 10*time.Millisecond, 10*time.Millisecond, 10*time.Millisecond)
	// The first event fails twice; everything after it must still come after it.
	rc := newReceiver(t, func(n int, _ received) int {
		if n < 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	w, err := b.App.Webhooks.Create(b.Ctx, webhook.NewWebhook{URL: rc.URL, Events: []string{event.ContactCreated, event.ContactUpdated}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := b.App.Contacts.CreateContact(b.Ctx, contact.NewContact{FirstName: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.App.Contacts.UpdateContact(b.Ctx, c.ID, contact.Update{Title: contact.Some("CTO")}); err != nil {
		t.Fatal(err)
	}
	got := rc.waitOK(t, 2)
	if types(got)[0] != event.ContactCreated || types(got)[1] != event.ContactUpdated {
		t.Fatalf("received %v", types(got))
	}
	// The stream records its successes a batch at a time, after the receiver has them.
	var ds []*webhook.Delivery
	for deadline := time.Now().Add(10 * time.Second); len(ds) < 4 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if ds, _, err = b.App.Webhooks.Deliveries(b.Ctx, w.ID, nil, 10); err != nil {
			t.Fatal(err)
		}
	}
	// Newest first: the update, then the created event's three attempts.
	var summary []string
	for _, d := range ds {
		code := 0
		if d.ResponseCode != nil {
			code = *d.ResponseCode
		}
		summary = append(summary, d.EventType+"#"+string(rune('0'+d.Attempt))+":"+d.Status+":"+http.StatusText(code))
	}
	want := []string{
		"contact.updated#1:succeeded:OK", "contact.created#3:succeeded:OK",
		"contact.created#2:retrying:Internal Server Error", "contact.created#1:retrying:Internal Server Error",
	}
	if strings.Join(summary, " ") != strings.Join(want, " ") {
		t.Fatalf("deliveries %v, want %v", summary, want)
	}
	if ds[3].NextAttemptAt == nil || ds[3].Error == nil || ds[0].Latency <= 0 {
		t.Errorf("a retried attempt has no next attempt or error, or latency is missing: %+v %+v", ds[3], ds[0])
	}
}

func TestReceiverDownThenUpGetsEverything(t *testing.T) {
	t.Parallel()
	b := setup(t, 50*time.Millisecond, 50*time.Millisecond, 50*time.Millisecond, 50*time.Millisecond, 50*time.Millisecond,
		50*time.Millisecond, 50*time.Millisecond, 50*time.Millisecond, 50*time.Millisecond, 50*time.Millisecond)
	var mu sync.Mutex
	down := true
	rc := newReceiver(t, func(int, received) int {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	if _, err := b.App.Webhooks.Create(b.Ctx, webhook.NewWebhook{URL: rc.URL, Events: []string{event.ContactCreated, event.ContactUpdated}}); err != nil {
		t.Fatal(err)
	}
	// Two contacts changed in interleaved order while the receiver is down.
	var ids []uuid.UUID
	for _, name := range []string{"Ada", "Grace"} {
		c, err := b.App.Contacts.CreateContact(b.Ctx, contact.NewContact{FirstName: name})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	for i := range 10 {
		if _, err := b.App.Contacts.UpdateContact(b.Ctx, ids[i%2], contact.Update{Title: contact.Some("title " + string(rune('a'+i)))}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	down = false
	mu.Unlock()
	rc.waitOK(t, 12)
	time.Sleep(200 * time.Millisecond) // long enough for a duplicate to arrive
	got := rc.waitOK(t, 12)
	if len(got) != 12 {
		t.Fatalf("received %d events, want 12 (each once)", len(got))
	}
	for i, r := range got {
		if want := webhook.MessageID(int64(i + 1)); r.msg.ID != want {
			t.Fatalf("event %d is %s, want %s: every event, in order", i, r.msg.ID, want)
		}
	}
}

func TestGivenUpDeliveryCanBeReplayed(t *testing.T) {
	t.Parallel()
	b := setup(t, 10*time.Millisecond)
	var mu sync.Mutex
	failing := true
	rc := newReceiver(t, func(int, received) int {
		mu.Lock()
		defer mu.Unlock()
		if failing {
			return http.StatusBadGateway
		}
		return http.StatusOK
	})
	w, err := b.App.Webhooks.Create(b.Ctx, webhook.NewWebhook{URL: rc.URL, Events: []string{event.ContactCreated}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.App.Contacts.CreateContact(b.Ctx, contact.NewContact{FirstName: "Ada"}); err != nil {
		t.Fatal(err)
	}
	var failed *webhook.Delivery
	for deadline := time.Now().Add(20 * time.Second); failed == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		ds, _, err := b.App.Webhooks.Deliveries(b.Ctx, w.ID, nil, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) > 0 && ds[0].Status == webhook.StatusFailed {
			failed = ds[0]
		}
	}
	if failed == nil || failed.Attempt != 2 {
		t.Fatalf("no failed delivery after two attempts: %+v", failed)
	}
	if _, err := b.App.Webhooks.Retry(b.Ctx, w.ID, uuid.Must(uuid.NewV7())); db.ErrorKind(err) != db.KindNotFound {
		t.Fatalf("retry of an unknown delivery: %v", err)
	}
	mu.Lock()
	failing = false
	mu.Unlock()
	if _, err := b.App.Webhooks.Retry(b.Ctx, w.ID, failed.ID); err != nil {
		t.Fatal(err)
	}
	got := rc.waitOK(t, 1)
	if got[0].msg.ID != webhook.MessageID(failed.EventSeq) {
		t.Fatalf("replayed %s, want %s", got[0].msg.ID, webhook.MessageID(failed.EventSeq))
	}
	var ds []*webhook.Delivery
	for deadline := time.Now().Add(10 * time.Second); len(ds) < 3 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if ds, _, err = b.App.Webhooks.Deliveries(b.Ctx, w.ID, nil, 10); err != nil {
			t.Fatal(err)
		}
	}
	if len(ds) != 3 || !ds[0].Replay || ds[0].Status != webhook.StatusSucceeded {
		t.Fatalf("after the replay: %+v", ds[0])
	}
	if _, err := b.App.Webhooks.Retry(b.Ctx, w.ID, ds[0].ID); db.ErrorKind(err) != db.KindConflict {
		t.Fatalf("retry of a succeeded delivery: %v", err)
	}
}
