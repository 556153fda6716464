package communication_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/contactd/contactd/communication"
	"github.com/contactd/contactd/consent"
	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/app"
	"github.com/contactd/contactd/internal/apptest"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/merge"
	"github.com/google/uuid"
)

type bundle struct {
	ctx context.Context
	app *app.App
	cs  *communication.Store
}

func setup(t *testing.T) bundle {
	t.Helper()
	a := apptest.New(t)
	return bundle{ctx: a.Ctx, app: a.App, cs: a.App.Communications}
}

func (b bundle) contact(t *testing.T, name string) uuid.UUID {
	t.Helper()
	c, err := b.app.Contacts.CreateContact(b.ctx, contact.NewContact{FirstName: name, Email: name + "@example.com", AllowDuplicate: true})
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

func (b bundle) log(t *testing.T, id uuid.UUID, subject string, at time.Time) *communication.Communication {
	t.Helper()
	c, err := b.cs.Record(b.ctx, id, communication.NewCommunication{Channel: "email", Direction: "outbound", Subject: subject, OccurredAt: at})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRecordValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.contact(t, "ann")
	long := strings.Repeat("x", communication.MaxBodyLen+1)
	future := time.Now().Add(time.Hour)
	nilUser := uuid.Nil
	_, err := b.cs.Record(b.ctx, id, communication.NewCommunication{Channel: "pigeon", Direction: "sideways",
		Subject: strings.Repeat("s", 501), Body: &long, OccurredAt: future, UserID: &nilUser})
	var de *db.Error
	if db.ErrorKind(err) != db.KindInvalid {
		t.Fatalf("invalid communication: %v", err)
	}
	de = err.(*db.Error)
	var fields []string
	for _, f := range de.Fields {
		fields = append(fields, f.Field)
	}
	if want := []string{"channel", "direction", "subject", "body", "occurredAt", "userId"}; !slices.Equal(fields, want) {
		t.Errorf("fields %v, want %v", fields, want)
	}
	unknown := uuid.New()
	_, err = b.cs.Record(b.ctx, id, communication.NewCommunication{Channel: "phone", Direction: "inbound", UserID: &unknown})
	if db.ErrorKind(err) != db.KindInvalid {
		t.Errorf("unknown user: %v", err)
	}
	_, err = b.cs.Record(b.ctx, uuid.New(), communication.NewCommunication{Channel: "phone", Direction: "inbound"})
	if db.ErrorKind(err) != db.KindNotFound {
		t.Errorf("unknown contact: %v", err)
	}
	body := "Hi Ann,\n\nthanks for the call.\n"
	c, err := b.cs.Record(b.ctx, id, communication.NewCommunication{Channel: "EMAIL", Direction: "outbound", Subject: " Follow-up ", Body: &body})
	if err != nil {
		t.Fatal(err)
	}
	if c.Channel != "email" || c.Subject != "Follow-up" || *c.Body != body || c.Actor != "test" || c.ContactID != id {
		t.Errorf("recorded %+v", c)
	}
}

func TestListPagesNewestFirstAndFollowsMerges(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ann, dup := b.contact(t, "ann"), b.contact(t, "dup")
	t0 := time.Now().Add(-time.Hour)
	for i := range 5 {
		b.log(t, ann, "ann "+string(rune('0'+i)), t0.Add(time.Duration(i)*time.Minute))
	}
	b.log(t, dup, "dup", t0.Add(90*time.Second))
	m, err := b.app.Merges.Merge(b.ctx, merge.Request{ContactIDs: []uuid.UUID{ann, dup}, SurvivorID: &ann})
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	var cur *communication.Cursor
	for {
		page, next, err := b.cs.List(b.ctx, dup, cur, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page {
			subjects = append(subjects, c.Subject)
		}
		if next == nil {
			break
		}
		cur = next
	}
	if want := []string{"ann 4", "ann 3", "ann 2", "dup", "ann 1", "ann 0"}; !slices.Equal(subjects, want) {
		t.Errorf("pages %v, want %v", subjects, want)
	}
	if _, _, err := b.app.Merges.UndoMerge(b.ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	page, _, err := b.cs.List(b.ctx, dup, nil, 10)
	if err != nil || len(page) != 1 || page[0].Subject != "dup" {
		t.Errorf("after the undo the duplicate's communications are its own again: %+v %v", page, err)
	}
}

func TestTimeline(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ann, dup := b.contact(t, "ann"), b.contact(t, "dup")
	b.log(t, ann, "first", time.Now().Add(-time.Hour))
	if _, err := b.app.Consent.RecordEvent(b.ctx, dup, consent.NewEvent{Channel: "email", Purpose: "marketing", Status: "withdrawn"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.app.Contacts.UpdateContact(b.ctx, ann, contact.Update{Title: contact.Some("CTO")}); err != nil {
		t.Fatal(err)
	}
	m, err := b.app.Merges.Merge(b.ctx, merge.Request{ContactIDs: []uuid.UUID{ann, dup}, SurvivorID: &ann})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.app.Merges.UndoMerge(b.ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	b.log(t, ann, "last", time.Time{})
	var items []communication.Item
	var cur *communication.Cursor
	for {
		page, next, err := b.cs.Timeline(b.ctx, ann, cur, 2)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, page...)
		if next == nil {
			break
		}
		cur = next
	}
	var types []string
	for i, it := range items {
		types = append(types, it.Type)
		if i > 0 && it.At.After(items[i-1].At) {
			t.Errorf("item %d (%s at %v) is newer than the one before", i, it.Type, it.At)
		}
	}
	// Newest first: the last communication, the undo, the merge, the title change, the two
	// creations and the first communication; the duplicate's consent event is not ann's after
	// the undo.
	want := []string{"communication", "undo", "merge", "change", "change", "communication"}
	if !slices.Equal(types, want) {
		t.Errorf("timeline %v, want %v", types, want)
	}
	_, _, err = b.cs.Timeline(b.ctx, ann, &communication.Cursor{At: time.Now(), ID: "x:1"}, 10)
	if db.ErrorKind(err) != db.KindInvalid {
		t.Errorf("a bad cursor: %v", err)
	}
}
