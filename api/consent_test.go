package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

type answerOut struct {
	ContactID     uuid.UUID  `json:"contactId"`
	Allowed       bool       `json:"allowed"`
	Reason        string     `json:"reason"`
	NextAllowedAt *time.Time `json:"nextAllowedAt"`
}

func (b *testBundle) reachability(t *testing.T, id uuid.UUID, channel, purpose string) answerOut {
	t.Helper()
	rec := b.do(t, http.MethodGet, fmt.Sprintf("/api/contacts/%s/reachability?channel=%s&purpose=%s", id, channel, purpose), nil, as(b.reader))
	wantStatus(t, rec, http.StatusOK)
	return decode[answerOut](t, rec)
}

func TestPurposesAPI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := b.do(t, http.MethodGet, "/api/purposes", nil, as(b.reader))
	wantStatus(t, rec, http.StatusOK)
	if ps := decode[page[struct{ Name string }]](t, rec); len(ps.Data) != 2 || ps.Data[0].Name != "marketing" {
		t.Errorf("purposes %+v", ps)
	}
	rec = b.do(t, http.MethodPost, "/api/purposes", body{"name": "events", "description": "Invitations", "optIn": true, "lawfulBases": []string{"consent"}}, as(b.writer))
	wantStatus(t, rec, http.StatusCreated)
	rec = b.do(t, http.MethodGet, rec.Header().Get("Location"), nil, as(b.reader))
	wantStatus(t, rec, http.StatusOK)
	if p := decode[struct{ Name string }](t, rec); p.Name != "events" {
		t.Errorf("the created purpose's Location gives %+v", p)
	}
	wantProblem(t, b.do(t, http.MethodGet, "/api/purposes/nope", nil), http.StatusNotFound)
	wantProblem(t, b.do(t, http.MethodPost, "/api/purposes", body{"name": "events", "lawfulBases": []string{"consent"}}), http.StatusConflict)
	p := wantProblem(t, b.do(t, http.MethodPost, "/api/purposes", body{"name": "Bad Name", "optIn": "yes", "lawfulBases": []string{"whim"}}), http.StatusUnprocessableEntity)
	wantFields(t, p, "name", "optIn", "lawfulBases[0]")
	wantProblem(t, b.do(t, http.MethodPost, "/api/purposes", body{"name": "x", "lawfulBases": []string{"consent"}}, as(b.reader)), http.StatusForbidden)
}

func TestConsentAPI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.createContact(t, body{"firstName": "Ann", "email": "ann@example.com", "phone": "+1 415 555 0100"})
	base := "/api/contacts/" + c.ID.String()

	if a := b.reachability(t, c.ID, "email", "marketing"); a.Allowed || a.Reason != "no_consent" {
		t.Errorf("before any consent: %+v", a)
	}
	rec := b.do(t, http.MethodPost, base+"/consents", body{"channel": "email", "purpose": "marketing", "status": "granted",
		"lawfulBasis": "consent", "source": "form", "explanation": "newsletter checkbox", "capturedAt": time.Now().Add(-time.Hour).Format(time.RFC3339),
		"doubleOptInAt": time.Now().Add(-time.Minute).Format(time.RFC3339), "proof": body{"ip": "192.0.2.1", "userAgent": "Mozilla/5.0", "noticeVersion": "v3"}}, as(b.writer))
	wantStatus(t, rec, http.StatusCreated)
	if a := b.reachability(t, c.ID, "email", "marketing"); !a.Allowed || a.Reason != "consent" {
		t.Errorf("after the grant: %+v", a)
	}

	p := wantProblem(t, b.do(t, http.MethodPost, base+"/consents", body{"channel": "fax", "purpose": "No Purpose!", "status": "maybe",
		"lawfulBasis": "whim", "capturedAt": "yesterday", "proof": body{"ip": "x"}}), http.StatusUnprocessableEntity)
	wantFields(t, p, "channel", "purpose", "status", "lawfulBasis", "capturedAt", "proof.ip")
	p = wantProblem(t, b.do(t, http.MethodPost, base+"/consents", body{"channel": "email", "purpose": "unknown", "status": "granted"}), http.StatusUnprocessableEntity)
	wantFields(t, p, "purpose")
	p = wantProblem(t, b.do(t, http.MethodPost, base+"/consents", body{"channel": "email", "purpose": "marketing", "status": "granted", "color": "red"}), http.StatusBadRequest)
	wantFields(t, p, "color")
	wantProblem(t, b.do(t, http.MethodPost, "/api/contacts/"+uuid.NewString()+"/consents", body{"channel": "email", "purpose": "marketing", "status": "granted"}), http.StatusNotFound)
	p = wantProblem(t, b.do(t, http.MethodGet, base+"/reachability?channel=fax&purpose=", nil), http.StatusUnprocessableEntity)
	wantFields(t, p, "channel", "purpose")

	// One-click unsubscribe.
	rec = b.do(t, http.MethodGet, base+"/unsubscribe-link?channel=email&purpose=marketing", nil, as(b.reader))
	wantStatus(t, rec, http.StatusOK)
	link := decode[struct{ URL, Token string }](t, rec)
	if link.URL != "http://localhost:8080/unsubscribe/"+link.Token {
		t.Errorf("link %+v", link)
	}
	oneClick := func(token, form string) *http.Response {
		rec := serve(t, b.handler, http.MethodPost, "/unsubscribe/"+token, form, as(""), withHeader("Content-Type", "application/x-www-form-urlencoded"))
		return rec.Result()
	}
	parts := strings.Split(link.Token, ".")
	altered := parts[0] + "." + parts[1] + "." + strings.ToLower(parts[2])
	if altered == link.Token {
		altered = parts[0] + "." + parts[1] + "x." + parts[2]
	}
	for _, bad := range []string{altered, "v1.abc.def", "garbage"} {
		if res := oneClick(bad, "List-Unsubscribe=One-Click"); res.StatusCode != http.StatusNotFound {
			t.Errorf("token %q: status %d, want 404", bad, res.StatusCode)
		}
	}
	if res := oneClick(link.Token, "unsubscribe=please"); res.StatusCode != http.StatusBadRequest {
		t.Errorf("a body other than List-Unsubscribe=One-Click: %d", res.StatusCode)
	}
	if a := b.reachability(t, c.ID, "email", "marketing"); !a.Allowed {
		t.Fatalf("refused unsubscribes changed consent: %+v", a)
	}
	for range 2 {
		if res := oneClick(link.Token, "List-Unsubscribe=One-Click"); res.StatusCode != http.StatusOK {
			t.Errorf("one-click unsubscribe: %d", res.StatusCode)
		}
	}
	if n := b.count(t, "consent_events", "contact_id = $1 AND source = 'unsubscribe_link'", c.ID); n != 1 {
		t.Errorf("%d unsubscribe events, want 1 (idempotent)", n)
	}
	if a := b.reachability(t, c.ID, "email", "marketing"); a.Allowed || a.Reason != "withdrawn" {
		t.Errorf("after unsubscribe: %+v", a)
	}

	// History and opt-out of everything.
	rec = b.do(t, http.MethodPost, base+"/opt-out", nil, as(b.writer))
	wantStatus(t, rec, http.StatusOK)
	if got := decode[page[struct{ Channel, Purpose string }]](t, rec); len(got.Data) != 7 {
		t.Errorf("opt-out of everything recorded %d events, want 7 (8 less the one withdrawn)", len(got.Data))
	}
	p = wantProblem(t, b.do(t, http.MethodPost, base+"/opt-out", body{"channel": "fax"}), http.StatusUnprocessableEntity)
	wantFields(t, p, "channel")
	rec = b.do(t, http.MethodGet, base+"/consents", nil, as(b.reader))
	wantStatus(t, rec, http.StatusOK)
	h := decode[struct {
		ContactID uuid.UUID
		Current   []struct{ Channel, Purpose, Status string }
		History   []struct{ Source string }
	}](t, rec)
	if h.ContactID != c.ID || len(h.Current) != 8 || len(h.History) != 9 {
		t.Errorf("consents: %d current, %d events", len(h.Current), len(h.History))
	}
	for _, st := range h.Current {
		if st.Status != "withdrawn" {
			t.Errorf("%s/%s is %s after opting out of everything", st.Channel, st.Purpose, st.Status)
		}
	}
	if n := b.count(t, "audit_log", "contact_id = $1 AND entity_type = 'consent_event'", c.ID); n != 9 {
		t.Errorf("%d audited consent events, want 9", n)
	}
}

func TestBulkReachabilityAPI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ann := b.createContact(t, body{"firstName": "Ann", "email": "ann@example.com"})
	bob := b.createContact(t, body{"firstName": "Bob", "email": "bob@example.com", "preferences": body{"frequency": "never"}})
	for _, id := range []uuid.UUID{ann.ID, bob.ID} {
		wantStatus(t, b.do(t, http.MethodPost, "/api/contacts/"+id.String()+"/consents", body{"channel": "email", "purpose": "marketing", "status": "granted"}), http.StatusCreated)
	}
	unknown := uuid.New()
	rec := b.do(t, http.MethodPost, "/api/reachability", body{"contactIds": []uuid.UUID{ann.ID, bob.ID, unknown}, "channel": "email", "purpose": "marketing"}, as(b.writer))
	wantStatus(t, rec, http.StatusOK)
	res := decode[struct{ Results []answerOut }](t, rec).Results
	if len(res) != 3 || !res[0].Allowed || res[1].Reason != "frequency" || res[2].Reason != "not_found" || res[2].ContactID != unknown {
		t.Errorf("results %+v", res)
	}
	// Ids the fast reader does not take (a JSON escape in them) are read the general way, not dropped.
	escaped := `{"contactIds": ["\u00` + fmt.Sprintf("%x", ann.ID.String()[0]) + ann.ID.String()[1:] + `"], "channel": "email", "purpose": "marketing"}`
	rec = b.do(t, http.MethodPost, "/api/reachability", escaped, as(b.writer))
	wantStatus(t, rec, http.StatusOK)
	if res := decode[struct{ Results []answerOut }](t, rec).Results; len(res) != 1 || res[0].ContactID != ann.ID || !res[0].Allowed {
		t.Errorf("escaped id: results %+v", res)
	}
	p := wantProblem(t, b.do(t, http.MethodPost, "/api/reachability", body{"contactIds": []string{"x", ann.ID.String()}, "channel": "email", "purpose": "marketing"}), http.StatusUnprocessableEntity)
	wantFields(t, p, "contactIds[0]")
	many := make([]uuid.UUID, 10001)
	for i := range many {
		many[i] = uuid.New()
	}
	p = wantProblem(t, b.do(t, http.MethodPost, "/api/reachability", body{"contactIds": many, "channel": "post", "purpose": "marketing"}), http.StatusUnprocessableEntity)
	wantFields(t, p, "contactIds", "channel")
}

func TestPreferencesGrowAPI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.createContact(t, body{"firstName": "Ann", "phone": "+1 415 555 0100", "preferences": body{"communicationMethods": []string{"sms"}}})
	rec := b.do(t, http.MethodPatch, "/api/contacts/"+c.ID.String(), body{"preferences": body{"frequency": "weekly", "timeZone": "America/New_York",
		"quietHours": body{"start": "21:00", "end": "08:00"}}})
	wantStatus(t, rec, http.StatusOK)
	got := decode[struct {
		Preferences struct {
			CommunicationMethods []string
			Frequency            *string
			TimeZone             *string
			QuietHours           *struct{ Start, End string }
		}
	}](t, rec).Preferences
	if len(got.CommunicationMethods) != 1 || deref(got.Frequency) != "weekly" || deref(got.TimeZone) != "America/New_York" ||
		got.QuietHours == nil || got.QuietHours.Start != "21:00" || got.QuietHours.End != "08:00" {
		t.Errorf("preferences %+v", got)
	}
	p := wantProblem(t, b.do(t, http.MethodPatch, "/api/contacts/"+c.ID.String(), body{"preferences": body{"frequency": "hourly", "timeZone": "Mars/Olympus",
		"quietHours": body{"start": "25:00", "end": "8"}}}), http.StatusUnprocessableEntity)
	wantFields(t, p, "preferences.frequency", "preferences.timeZone", "preferences.quietHours.start", "preferences.quietHours.end")
	p = wantProblem(t, b.do(t, http.MethodPatch, "/api/contacts/"+c.ID.String(), body{"preferences": body{"quietHours": body{"start": "08:00", "end": "08:00", "tz": "x"}}}), http.StatusBadRequest)
	wantFields(t, p, "preferences.quietHours.tz")
	rec = b.do(t, http.MethodPatch, "/api/contacts/"+c.ID.String(), body{"preferences": body{"quietHours": nil, "frequency": nil}})
	wantStatus(t, rec, http.StatusOK)
	if s := rec.Body.String(); !strings.Contains(s, `"quietHours":null`) || !strings.Contains(s, `"frequency":null`) || !strings.Contains(s, `"timeZone":"America/New_York"`) {
		t.Errorf("clearing two preferences: %s", s)
	}
}
