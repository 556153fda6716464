package consent_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/contactd/contactd/consent"
	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
)

func TestPurposes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ps, err := b.cs.Purposes(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].Name != "marketing" || !ps[0].OptIn || ps[1].Name != "service" || ps[1].OptIn {
		t.Fatalf("built-in purposes: %+v", ps)
	}
	p, err := b.cs.CreatePurpose(b.ctx, consent.Purpose{Name: " Product-News ", Description: "Release notes", OptIn: true, LawfulBases: []string{"consent"}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "product-news" || p.CreatedAt.IsZero() {
		t.Errorf("created %+v", p)
	}
	_, err = b.cs.CreatePurpose(b.ctx, consent.Purpose{Name: "product-news", LawfulBases: []string{"consent"}})
	requireKind(t, err, db.KindConflict)
	_, err = b.cs.CreatePurpose(b.ctx, consent.Purpose{Name: "9 bad", Description: "x\x01", LawfulBases: []string{"consent", "whim", "consent"}})
	de := requireKind(t, err, db.KindInvalid)
	if got, want := fieldsOf(de), []string{"name", "description", "lawfulBases[1]", "lawfulBases[2]"}; !slices.Equal(got, want) {
		t.Errorf("fields %v, want %v", got, want)
	}
}

func TestRecordEventValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.newContact(t, "ann")
	future := time.Now().Add(time.Hour)
	_, err := b.cs.RecordEvent(b.ctx, id, consent.NewEvent{Channel: "fax", Purpose: "Bad Purpose!", Status: "maybe",
		LawfulBasis: "whim", Source: "Not A Word", CapturedAt: future, DoubleOptInAt: &future,
		Proof: consent.Proof{IP: "999.1.1.1"}})
	de := requireKind(t, err, db.KindInvalid)
	want := []string{"channel", "purpose", "status", "lawfulBasis", "source", "capturedAt", "doubleOptInAt", "proof.ip"}
	if got := fieldsOf(de); !slices.Equal(got, want) {
		t.Errorf("fields %v, want %v", got, want)
	}
	_, err = b.cs.RecordEvent(b.ctx, id, grant("email", "unknown", time.Time{}))
	if de := requireKind(t, err, db.KindInvalid); !slices.Equal(fieldsOf(de), []string{"purpose"}) {
		t.Errorf("unknown purpose: %v", de)
	}
	_, err = b.cs.RecordEvent(b.ctx, uuid.Must(uuid.NewV7()), grant("email", "marketing", time.Time{}))
	requireKind(t, err, db.KindNotFound)
	var n int
	if err := b.pool.QueryRow(b.ctx, `SELECT count(*) FROM consent_events`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("refused events left %d rows (%v)", n, err)
	}

	optIn := time.Now().Add(-time.Minute)
	ev := b.record(t, id, consent.NewEvent{Channel: "EMAIL", Purpose: "marketing", Status: "granted", Source: "form",
		CapturedAt: time.Now().Add(-time.Hour), DoubleOptInAt: &optIn, Explanation: "newsletter box",
		Proof: consent.Proof{IP: "2001:db8::1", UserAgent: "Mozilla/5.0", NoticeVersion: "2024-05"}})
	if ev.Channel != "email" || ev.LawfulBasis != "consent" || ev.Actor != "test" || ev.RecordedAt.IsZero() {
		t.Errorf("recorded %+v", ev)
	}
	trail, err := b.app.Contacts.AuditTrail(b.ctx, id, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	last := trail[len(trail)-1]
	if last.Action != "consent_granted" || last.EntityID != ev.ID || last.Actor != "test" || last.Changes["consent.email.marketing"].After != "granted" {
		t.Errorf("audit entry %+v", last)
	}
}

func TestReachabilityRules(t *testing.T) {
	t.Parallel()
	b := setup(t)
	past := time.Now().Add(-24 * time.Hour)
	noon := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	b.cs.SetClock(func() time.Time { return noon })
	prefs := func(t *testing.T, id uuid.UUID, p *contact.PreferencesPatch) {
		t.Helper()
		if _, err := b.app.Contacts.UpdateContact(b.ctx, id, contact.Update{Preferences: p}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name             string
		arrange          func(t *testing.T, id uuid.UUID)
		channel, purpose string
		allowed          bool
		reason           string
	}{
		{"marketing without a record", nil, "email", "marketing", false, consent.ReasonNoConsent},
		{"service without a record", nil, "email", "service", true, consent.ReasonNotWithdrawn},
		{"granted", func(t *testing.T, id uuid.UUID) { b.record(t, id, grant("email", "marketing", past)) }, "email", "marketing", true, consent.ReasonConsent},
		{"granted on another channel", func(t *testing.T, id uuid.UUID) { b.record(t, id, grant("sms", "marketing", past)) }, "email", "marketing", false, consent.ReasonNoConsent},
		{"legitimate interest", func(t *testing.T, id uuid.UUID) {
			e := grant("email", "marketing", past)
			e.LawfulBasis = "legitimate_interest"
			b.record(t, id, e)
		}, "email", "marketing", true, consent.ReasonConsent},
		{"contract is no basis for marketing", func(t *testing.T, id uuid.UUID) {
			e := grant("email", "marketing", past)
			e.LawfulBasis = "contract"
			b.record(t, id, e)
		}, "email", "marketing", false, consent.ReasonNoLawfulBasis},
		{"withdrawn after a grant", func(t *testing.T, id uuid.UUID) {
			b.record(t, id, grant("email", "marketing", past))
			b.record(t, id, withdraw("email", "marketing", past.Add(time.Hour)))
		}, "email", "marketing", false, consent.ReasonWithdrawn},
		{"granted again after a withdrawal", func(t *testing.T, id uuid.UUID) {
			b.record(t, id, withdraw("email", "marketing", past))
			b.record(t, id, grant("email", "marketing", past.Add(time.Hour)))
		}, "email", "marketing", true, consent.ReasonConsent},
		{"a late-recorded older grant does not lift a withdrawal", func(t *testing.T, id uuid.UUID) {
			b.record(t, id, withdraw("email", "marketing", past.Add(time.Hour)))
			b.record(t, id, grant("email", "marketing", past))
		}, "email", "marketing", false, consent.ReasonWithdrawn},
		{"service withdrawn", func(t *testing.T, id uuid.UUID) { b.record(t, id, withdraw("email", "service", past)) }, "email", "service", false, consent.ReasonWithdrawn},
		{"archived", func(t *testing.T, id uuid.UUID) {
			b.record(t, id, grant("email", "marketing", past))
			if err := b.app.Contacts.ArchiveContact(b.ctx, id); err != nil {
				t.Fatal(err)
			}
		}, "email", "marketing", false, consent.ReasonArchived},
		{"no email", func(t *testing.T, id uuid.UUID) {
			b.record(t, id, grant("email", "marketing", past))
			if _, err := b.app.Contacts.UpdateContact(b.ctx, id, contact.Update{Email: contact.Opt[string]{Set: true, Null: true}}); err != nil {
				t.Fatal(err)
			}
		}, "email", "marketing", false, consent.ReasonNoAddress},
		{"invalid email", func(t *testing.T, id uuid.UUID) {
			// An address stored before validation tightened: the normalizer could not read it.
			b.exec(t, `UPDATE contacts SET email = 'not an address', email_normalized = NULL WHERE id = $1`, id)
		}, "email", "service", false, consent.ReasonInvalidAddress},
		{"mail without a postal address", func(t *testing.T, id uuid.UUID) {
			b.record(t, id, grant("mail", "marketing", past))
		}, "mail", "marketing", false, consent.ReasonNoPostalAddress},
		{"mail with a street but neither city nor postal code", func(t *testing.T, id uuid.UUID) {
			b.record(t, id, grant("mail", "marketing", past))
			b.exec(t, `UPDATE contacts SET street = '1 Main St', country = 'US' WHERE id = $1`, id)
		}, "mail", "marketing", false, consent.ReasonNoPostalAddress},
		{"mail with a postal address", func(t *testing.T, id uuid.UUID) {
			b.record(t, id, grant("mail", "marketing", past))
			if _, err := b.app.Contacts.UpdateContact(b.ctx, id, contact.Update{Street: contact.Some("1 Main St"),
				PostalCode: contact.Some("94105"), Country: contact.Some("US")}); err != nil {
				t.Fatal(err)
			}
		}, "mail", "marketing", true, consent.ReasonConsent},
		{"mail withdrawn says withdrawn first", func(t *testing.T, id uuid.UUID) {
			b.record(t, id, withdraw("mail", "service", past))
		}, "mail", "service", false, consent.ReasonWithdrawn},
		{"invalid phone", func(t *testing.T, id uuid.UUID) {
			b.exec(t, `UPDATE contacts SET phone_valid = false WHERE id = $1`, id)
		}, "sms", "service", false, consent.ReasonInvalidAddress},
		{"email notifications off", func(t *testing.T, id uuid.UUID) {
			prefs(t, id, &contact.PreferencesPatch{NotifyEmail: contact.Some(false)})
		}, "email", "service", false, consent.ReasonPreferences},
		{"channel not among the methods", func(t *testing.T, id uuid.UUID) {
			prefs(t, id, &contact.PreferencesPatch{CommunicationMethods: contact.Some([]string{"phone"})})
		}, "email", "service", false, consent.ReasonPreferences},
		{"frequency never stops marketing", func(t *testing.T, id uuid.UUID) {
			b.record(t, id, grant("email", "marketing", past))
			prefs(t, id, &contact.PreferencesPatch{Frequency: contact.Some("never")})
		}, "email", "marketing", false, consent.ReasonFrequency},
		{"frequency never lets service through", func(t *testing.T, id uuid.UUID) {
			prefs(t, id, &contact.PreferencesPatch{Frequency: contact.Some("never")})
		}, "email", "service", true, consent.ReasonNotWithdrawn},
		{"quiet hours in the contact's zone", func(t *testing.T, id uuid.UUID) {
			// Noon UTC is 21:00 in Tokyo.
			prefs(t, id, &contact.PreferencesPatch{TimeZone: contact.Some("Asia/Tokyo"),
				QuietHours: contact.Some(contact.QuietHours{Start: "20:00", End: "08:00"})})
		}, "sms", "service", false, consent.ReasonQuietHours},
		{"outside quiet hours", func(t *testing.T, id uuid.UUID) {
			prefs(t, id, &contact.PreferencesPatch{TimeZone: contact.Some("Europe/Berlin"),
				QuietHours: contact.Some(contact.QuietHours{Start: "20:00", End: "08:00"})})
		}, "sms", "service", true, consent.ReasonNotWithdrawn},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id := b.newContact(t, "c"+string(rune('a'+i)))
			if tc.arrange != nil {
				tc.arrange(t, id)
			}
			a := b.reach(t, id, tc.channel, tc.purpose)
			if a.Allowed != tc.allowed || a.Reason != tc.reason {
				t.Errorf("got allowed=%v reason=%s, want %v %s", a.Allowed, a.Reason, tc.allowed, tc.reason)
			}
			if tc.reason == consent.ReasonQuietHours {
				want := time.Date(2026, 6, 1, 23, 0, 0, 0, time.UTC) // 08:00 in Tokyo
				if a.NextAllowedAt == nil || !a.NextAllowedAt.Equal(want) {
					t.Errorf("nextAllowedAt %v, want %v", a.NextAllowedAt, want)
				}
			} else if a.NextAllowedAt != nil {
				t.Errorf("nextAllowedAt %v without quiet hours", a.NextAllowedAt)
			}
		})
	}
}

func TestReachabilityInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.newContact(t, "ann")
	_, err := b.cs.ReachableMany(b.ctx, make([]uuid.UUID, consent.MaxReachabilityIDs+1), "fax", "")
	if de := requireKind(t, err, db.KindInvalid); !slices.Equal(fieldsOf(de), []string{"channel", "purpose", "contactIds"}) {
		t.Errorf("fields %v", fieldsOf(de))
	}
	_, err = b.cs.ReachableMany(b.ctx, []uuid.UUID{id}, "email", "nope")
	requireKind(t, err, db.KindInvalid)
	_, err = b.cs.Reachable(b.ctx, uuid.Must(uuid.NewV7()), "email", "marketing")
	requireKind(t, err, db.KindNotFound)
	unknown := uuid.Must(uuid.NewV7())
	b.record(t, id, grant("email", "marketing", time.Time{}))
	as, err := b.cs.ReachableMany(b.ctx, []uuid.UUID{unknown, id, id}, "email", "marketing")
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 3 || as[0].Reason != consent.ReasonNotFound || as[0].ContactID != unknown || !as[1].Allowed || !as[2].Allowed || as[1].ContactID != id {
		t.Errorf("answers %+v", as)
	}
}

func TestMergesNeverWidenConsent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	t0 := time.Now().Add(-time.Hour)
	ann, dup := b.newContact(t, "ann"), b.newContact(t, "ann2")
	b.record(t, ann, grant("email", "marketing", t0))
	b.record(t, dup, withdraw("email", "marketing", t0.Add(time.Minute)))
	// The survivor's grant is captured after the duplicate's withdrawal, but recorded before the
	// merge: it does not lift it.
	b.record(t, ann, grant("email", "marketing", t0.Add(2*time.Minute)))
	if a := b.reach(t, ann, "email", "marketing"); !a.Allowed {
		t.Fatalf("before the merge: %+v", a)
	}
	m := b.merge(t, ann, dup)
	for _, id := range []uuid.UUID{ann, dup} {
		if a := b.reach(t, id, "email", "marketing"); a.Allowed || a.Reason != consent.ReasonWithdrawn || a.ContactID != id {
			t.Errorf("after the merge, %s: %+v", id, a)
		}
	}
	h, err := b.cs.History(b.ctx, dup)
	if err != nil {
		t.Fatal(err)
	}
	if h.ContactID != ann || len(h.Events) != 3 || len(h.Current) != 1 || h.Current[0].Status != consent.Withdrawn {
		t.Errorf("history of the merged contact: %+v", h)
	}
	b.undo(t, m)
	if a := b.reach(t, ann, "email", "marketing"); !a.Allowed {
		t.Errorf("after the undo the survivor has its own consent again: %+v", a)
	}
	if a := b.reach(t, dup, "email", "marketing"); a.Allowed || a.Reason != consent.ReasonWithdrawn {
		t.Errorf("after the undo the duplicate keeps its withdrawal: %+v", a)
	}

	// A grant the survivor records after the merge lifts a merged withdrawal; one given to the
	// merged record is the survivor's.
	m = b.merge(t, ann, dup)
	if ev := b.record(t, dup, grant("email", "marketing", time.Time{})); ev.ContactID != ann {
		t.Errorf("a grant given to a merged contact was recorded on %s, want the survivor %s", ev.ContactID, ann)
	}
	if a := b.reach(t, dup, "email", "marketing"); !a.Allowed {
		t.Errorf("a new grant on the survivor: %+v", a)
	}
	// A withdrawal on the survivor while merged is kept by each restored contact on undo.
	b.record(t, ann, withdraw("email", "marketing", time.Time{}))
	b.undo(t, m)
	for _, id := range []uuid.UUID{ann, dup} {
		if a := b.reach(t, id, "email", "marketing"); a.Allowed {
			t.Errorf("after the undo %s: %+v", id, a)
		}
	}
	h, err = b.cs.History(b.ctx, dup)
	if err != nil {
		t.Fatal(err)
	}
	if h.ContactID != dup || h.Events[0].Source != consent.SourceMergeUndo || h.Events[0].ContactID != dup {
		t.Errorf("the duplicate's history after the undo: %+v", h.Events[0])
	}
}

func TestOptOutAndUnsubscribe(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.newContact(t, "ann")
	for _, ch := range consent.Channels {
		b.record(t, id, grant(ch, "marketing", time.Now().Add(-time.Hour)))
	}
	token, err := b.cs.UnsubscribeToken(b.ctx, id, "email", "marketing")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{token + "x", strings.Replace(token, "v1.", "v2.", 1), "", "v1..", forge(t, token)} {
		if _, err := b.cs.Unsubscribe(b.ctx, bad); db.ErrorKind(err) != db.KindNotFound {
			t.Errorf("token %q: %v, want not found", bad, err)
		}
	}
	if a := b.reach(t, id, "email", "marketing"); !a.Allowed {
		t.Fatalf("refused tokens changed consent: %+v", a)
	}
	evs, err := b.cs.Unsubscribe(b.ctx, token)
	if err != nil || len(evs) != 1 || evs[0].Source != consent.SourceUnsubscribeLink || evs[0].Actor != "unsubscribe_link" {
		t.Fatalf("unsubscribe: %+v, %v", evs, err)
	}
	if evs, err := b.cs.Unsubscribe(b.ctx, token); err != nil || len(evs) != 0 {
		t.Errorf("second unsubscribe recorded %d events (%v), want none", len(evs), err)
	}
	if a := b.reach(t, id, "email", "marketing"); a.Allowed || a.Reason != consent.ReasonWithdrawn {
		t.Errorf("after unsubscribe: %+v", a)
	}
	if a := b.reach(t, id, "sms", "marketing"); !a.Allowed {
		t.Errorf("sms is not what the link named: %+v", a)
	}
	// A token signed with another key is refused.
	other := consent.NewStore(b.app.DB)
	if err := other.SetUnsubscribeKey([]byte(strings.Repeat("k", consent.MinKeyLen))); err != nil {
		t.Fatal(err)
	}
	foreign, err := other.UnsubscribeToken(b.ctx, id, "sms", "marketing")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.cs.Unsubscribe(b.ctx, foreign); db.ErrorKind(err) != db.KindNotFound {
		t.Errorf("another key's token: %v", err)
	}
	if err := other.SetUnsubscribeKey([]byte("short")); db.ErrorKind(err) != db.KindInvalid {
		t.Errorf("a short key: %v", err)
	}

	evs, err = b.cs.OptOut(b.ctx, id, "", "", consent.SourceAPI)
	if err != nil {
		t.Fatal(err)
	}
	// Every channel of both purposes except email/marketing, withdrawn already.
	if len(evs) != 2*len(consent.Channels)-1 {
		t.Errorf("opt-out of everything recorded %d events", len(evs))
	}
	for _, ch := range consent.Channels {
		for _, p := range []string{"marketing", "service"} {
			if a := b.reach(t, id, ch, p); a.Allowed {
				t.Errorf("%s/%s after opting out of everything: %+v", ch, p, a)
			}
		}
	}
	_, err = b.cs.OptOut(b.ctx, id, "fax", "Nope!", consent.SourceAPI)
	if de := requireKind(t, err, db.KindInvalid); !slices.Equal(fieldsOf(de), []string{"channel", "purpose"}) {
		t.Errorf("fields %v", fieldsOf(de))
	}
	_, err = b.cs.OptOut(b.ctx, uuid.Must(uuid.NewV7()), "", "", consent.SourceAPI)
	requireKind(t, err, db.KindNotFound)
}

// forge returns token naming another contact with the original signature.
func forge(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	return parts[0] + "." + strings.ToUpper(parts[1][:4]) + parts[1][4:] + "." + parts[2]
}
