package event_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/contactd/contactd/consent"
	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/event"
	"github.com/contactd/contactd/internal/apptest"
	"github.com/contactd/contactd/sync/source"
	"github.com/google/uuid"
)

// ofType returns the feed's events of one type.
func ofType(t *testing.T, b apptest.Bundle, typ string) []event.Event {
	t.Helper()
	var out []event.Event
	for _, e := range changes(t, b) {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// TestConsentChangesAreEvents proves that every way consent is recorded (an event, an opt-out
// of every purpose, a one-click unsubscribe) is a consent.changed event naming what changed.
func TestConsentChangesAreEvents(t *testing.T) {
	t.Parallel()
	b := apptest.New(t)
	c, err := b.App.Contacts.CreateContact(b.Ctx, contact.NewContact{FirstName: "Ada", Email: "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	granted, err := b.App.Consent.RecordEvent(b.Ctx, c.ID, consent.NewEvent{Channel: "email", Purpose: "marketing", Status: consent.Granted})
	if err != nil {
		t.Fatal(err)
	}
	opted, err := b.App.Consent.OptOut(b.Ctx, c.ID, "sms", "", "")
	if err != nil {
		t.Fatal(err)
	}
	token, err := b.App.Consent.UnsubscribeToken(b.Ctx, c.ID, "email", "marketing")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.App.Consent.Unsubscribe(b.Ctx, token); err != nil {
		t.Fatal(err)
	}
	evs := ofType(t, b, event.ConsentChanged)
	if want := 1 + len(opted) + 1; len(evs) != want {
		t.Fatalf("%d consent.changed events, want %d", len(evs), want)
	}
	type changed struct {
		ContactID      uuid.UUID `json:"contactId"`
		ConsentEventID uuid.UUID `json:"consentEventId"`
		Channel        string    `json:"channel"`
		Purpose        string    `json:"purpose"`
		Status         string    `json:"status"`
		LawfulBasis    string    `json:"lawfulBasis"`
		Source         string    `json:"source"`
	}
	var first, last changed
	if err := json.Unmarshal(evs[0].Data, &first); err != nil {
		t.Fatal(err)
	}
	if first != (changed{c.ID, granted.ID, "email", "marketing", consent.Granted, "consent", consent.SourceAPI}) {
		t.Errorf("the grant's event %s", evs[0].Data)
	}
	if err := json.Unmarshal(evs[len(evs)-1].Data, &last); err != nil {
		t.Fatal(err)
	}
	if last.Status != consent.Withdrawn || last.Source != consent.SourceUnsubscribeLink || last.Channel != "email" || last.Purpose != "marketing" {
		t.Errorf("the unsubscribe's event %s", evs[len(evs)-1].Data)
	}
	for _, e := range evs {
		if e.ContactID == nil || *e.ContactID != c.ID {
			t.Errorf("consent.changed about %v, want %s", e.ContactID, c.ID)
		}
	}
}

// TestSyncFinishedIsAnEvent proves that ending a sync run, succeeded or failed, is a
// sync.finished event with the run's counts, in the transaction that ends it.
func TestSyncFinishedIsAnEvent(t *testing.T) {
	t.Parallel()
	b := apptest.New(t)
	src, err := b.App.Sources.Create(b.Ctx, source.NewSource{Type: "http", Name: "crm",
		Config: json.RawMessage(`{"url": "https://api.example.com/people", "idPath": "id", "fieldMapping": {"email": "email"}}`)})
	if err != nil {
		t.Fatal(err)
	}
	type finished struct {
		RunID    uuid.UUID `json:"runId"`
		SourceID uuid.UUID `json:"sourceId"`
		Status   string    `json:"status"`
		Pulled   int       `json:"pulled"`
		Created  int       `json:"created"`
		Errors   int       `json:"errors"`
	}
	for i, failure := range []error{nil, errors.New("remote said no")} {
		run, _, err := b.App.Sources.StartRun(b.Ctx, src.ID, false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.App.Sources.FinishRun(b.Ctx, run.ID, source.Stats{Pulled: 3, Created: 2}, failure); err != nil {
			t.Fatal(err)
		}
		evs := ofType(t, b, event.SyncFinished)
		if len(evs) != i+1 {
			t.Fatalf("%d sync.finished events after %d runs", len(evs), i+1)
		}
		var got finished
		if err := json.Unmarshal(evs[i].Data, &got); err != nil {
			t.Fatal(err)
		}
		want := finished{run.ID, src.ID, "succeeded", 3, 2, 0}
		if failure != nil {
			want.Status, want.Errors = "failed", 1
		}
		if got != want {
			t.Errorf("run %d: sync.finished %s, want %+v", i, evs[i].Data, want)
		}
	}
}
