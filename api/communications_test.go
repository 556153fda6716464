package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestCommunicationsAndTimelineAPI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.createContact(t, body{"firstName": "Ann", "email": "ann@example.com"})
	user := b.createUser(t, "Sam")
	base := "/api/contacts/" + c.ID.String()
	rec := b.do(t, http.MethodPost, base+"/communications", body{"channel": "meeting", "direction": "outbound", "subject": "Kick-off",
		"body": "Agenda:\n- scope\n- dates", "occurredAt": time.Now().Add(-time.Hour).Format(time.RFC3339), "userId": user}, as(b.writer))
	wantStatus(t, rec, http.StatusCreated)
	for i := range 3 {
		wantStatus(t, b.do(t, http.MethodPost, base+"/communications", body{"channel": "email", "direction": "inbound", "subject": "re " + string(rune('a'+i))}), http.StatusCreated)
	}
	p := wantProblem(t, b.do(t, http.MethodPost, base+"/communications", body{"channel": "fax", "direction": "up", "occurredAt": "soon",
		"userId": "nobody", "body": strings.Repeat("x", 65537)}), http.StatusUnprocessableEntity)
	wantFields(t, p, "channel", "direction", "occurredAt", "userId", "body")
	p = wantProblem(t, b.do(t, http.MethodPost, base+"/communications", body{"channel": "email", "direction": "inbound", "userId": uuid.NewString()}), http.StatusUnprocessableEntity)
	wantFields(t, p, "userId")
	wantProblem(t, b.do(t, http.MethodPost, "/api/contacts/"+uuid.NewString()+"/communications", body{"channel": "email", "direction": "inbound"}), http.StatusNotFound)

	rec = b.do(t, http.MethodGet, base+"/communications?limit=2", nil, as(b.reader))
	wantStatus(t, rec, http.StatusOK)
	first := decode[page[struct{ Subject string }]](t, rec)
	if len(first.Data) != 2 || first.NextCursor == nil {
		t.Fatalf("first page %+v", first)
	}
	rec = b.do(t, http.MethodGet, base+"/communications?limit=2&cursor="+*first.NextCursor, nil, as(b.reader))
	wantStatus(t, rec, http.StatusOK)
	second := decode[page[struct{ Subject string }]](t, rec)
	if len(second.Data) != 2 || second.NextCursor != nil || second.Data[1].Subject != "Kick-off" {
		t.Errorf("second page %+v", second)
	}
	wantFields(t, wantProblem(t, b.do(t, http.MethodGet, base+"/communications?cursor=zzz", nil), http.StatusUnprocessableEntity), "cursor")

	wantStatus(t, b.do(t, http.MethodPost, base+"/consents", body{"channel": "email", "purpose": "marketing", "status": "granted"}), http.StatusCreated)
	rec = b.do(t, http.MethodGet, base+"/timeline?limit=3", nil, as(b.reader))
	wantStatus(t, rec, http.StatusOK)
	tl := decode[page[struct {
		Type          string
		Communication *struct{ Subject string }
		Change        *struct{ Action string }
	}]](t, rec)
	if len(tl.Data) != 3 || tl.Data[0].Type != "consent" || tl.Data[0].Change == nil || tl.Data[1].Type != "communication" || tl.NextCursor == nil {
		t.Errorf("timeline %+v", tl)
	}
	rec = b.do(t, http.MethodGet, base+"/timeline?limit=10&cursor="+*tl.NextCursor, nil, as(b.reader))
	wantStatus(t, rec, http.StatusOK)
	rest := decode[page[struct{ Type string }]](t, rec)
	// The kick-off meeting happened an hour before the contact was created.
	if len(rest.Data) != 3 || rest.Data[1].Type != "change" || rest.Data[2].Type != "communication" || rest.NextCursor != nil {
		t.Errorf("rest of the timeline %+v", rest)
	}
}
