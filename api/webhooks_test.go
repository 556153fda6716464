package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/contactd/contactd/webhook"
	"github.com/google/uuid"
)

type webhookOut struct {
	ID     uuid.UUID `json:"id"`
	URL    string    `json:"url"`
	Events []string  `json:"events"`
	Active bool      `json:"active"`
	Secret string    `json:"secret"`
}

type deliveryOut struct {
	ID       uuid.UUID `json:"id"`
	EventID  string    `json:"eventId"`
	Status   string    `json:"status"`
	Attempt  int       `json:"attempt"`
	Error    *string   `json:"error"`
	EventSeq int64     `json:"eventSeq"`
}

type changeOut struct {
	Seq       int64          `json:"seq"`
	Type      string         `json:"type"`
	ContactID *uuid.UUID     `json:"contactId"`
	Data      map[string]any `json:"data"`
}

func TestWebhookValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		name   string
		in     any
		status int
		fields []string
	}{
		{"loopback refused by default", body{"url": "http://127.0.0.1:8080/hook", "events": []string{"contact.created"}}, http.StatusUnprocessableEntity, []string{"url"}},
		{"missing fields", body{}, http.StatusUnprocessableEntity, []string{"url", "events"}},
		{"wrong types", body{"url": 1, "events": "contact.created", "active": "yes"}, http.StatusUnprocessableEntity, []string{"url", "events", "active"}},
		{"bad values", body{"url": "mailto:a@b.c", "events": []string{"contact.created", "contact.exploded"}, "secret": "hunter2"},
			http.StatusUnprocessableEntity, []string{"url", "events[1]", "secret"}},
		{"unknown field", body{"url": "https://example.com/", "events": []string{"contact.created"}, "headers": body{}}, http.StatusBadRequest, []string{"headers"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			wantFields(t, wantProblem(t, b.do(t, http.MethodPost, "/api/webhooks", tc.in, as(b.writer)), tc.status), tc.fields...)
		})
	}
	if n := b.count(t, "webhooks", "true"); n != 0 {
		t.Fatalf("%d webhooks stored", n)
	}
}

func TestWebhookLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.app.Webhooks.SetGuard(webhook.Guard{AllowPrivate: true})
	b.app.Webhooks.SetBackoff(nil) // a failed attempt is given up on at once
	rec := b.do(t, http.MethodPost, "/api/webhooks", body{"url": "http://127.0.0.1:1/hook", "events": []string{"contact.created"}}, as(b.writer))
	wantStatus(t, rec, http.StatusCreated)
	w := decode[webhookOut](t, rec)
	if !strings.HasPrefix(w.Secret, "whsec_") || !w.Active || rec.Header().Get("Location") != "/api/webhooks/"+w.ID.String() {
		t.Fatalf("created %+v (Location %q)", w, rec.Header().Get("Location"))
	}
	rec = b.do(t, http.MethodGet, "/api/webhooks/"+w.ID.String(), nil, as(b.reader))
	wantStatus(t, rec, http.StatusOK)
	if strings.Contains(rec.Body.String(), "secret") {
		t.Fatalf("GET shows the secret: %s", rec.Body)
	}
	rec = b.do(t, http.MethodGet, "/api/webhooks", nil, as(b.reader))
	wantStatus(t, rec, http.StatusOK)
	if p := decode[page[webhookOut]](t, rec); len(p.Data) != 1 || p.Data[0].Secret != "" {
		t.Fatalf("list %+v", p)
	}
	rec = b.do(t, http.MethodPatch, "/api/webhooks/"+w.ID.String(), body{"events": []string{"contact.created", "contact.updated"}}, as(b.writer))
	wantStatus(t, rec, http.StatusOK)
	if got := decode[webhookOut](t, rec); len(got.Events) != 2 || got.URL != w.URL || got.Secret != "" {
		t.Fatalf("patched %+v", got)
	}
	wantFields(t, wantProblem(t, b.do(t, http.MethodPatch, "/api/webhooks/"+w.ID.String(), body{"url": nil, "secret": nil}, as(b.writer)),
		http.StatusUnprocessableEntity), "url", "secret")

	// A contact created: the webhook's delivery to a closed port fails and is given up on.
	b.createContact(t, body{"firstName": "Ada"})
	ctx := context.Background()
	if err := webhook.Dispatch(ctx, b.app.DB); err != nil {
		t.Fatal(err)
	}
	if _, done, err := b.app.Webhooks.Deliver(ctx, w.ID); err != nil || !done {
		t.Fatalf("deliver: done %v, %v", done, err)
	}
	rec = b.do(t, http.MethodGet, "/api/webhooks/"+w.ID.String()+"/deliveries", nil, as(b.reader))
	wantStatus(t, rec, http.StatusOK)
	ds := decode[page[deliveryOut]](t, rec)
	if len(ds.Data) != 1 || ds.Data[0].Status != "failed" || ds.Data[0].Error == nil || ds.Data[0].EventID != "evt_1" {
		t.Fatalf("deliveries %+v", ds)
	}
	retry := "/api/webhooks/" + w.ID.String() + "/deliveries/" + ds.Data[0].ID.String() + "/retry"
	wantStatus(t, b.do(t, http.MethodPost, retry, nil, as(b.writer)), http.StatusAccepted)
	if n := b.count(t, "river_job", "kind = 'webhook_replay'"); n != 1 {
		t.Fatalf("%d replay jobs", n)
	}
	wantProblem(t, b.do(t, http.MethodPost, "/api/webhooks/"+w.ID.String()+"/deliveries/"+uuid.NewString()+"/retry", nil, as(b.writer)), http.StatusNotFound)
	wantProblem(t, b.do(t, http.MethodPost, retry, nil, as(b.reader)), http.StatusForbidden)

	wantStatus(t, b.do(t, http.MethodDelete, "/api/webhooks/"+w.ID.String(), nil, as(b.writer)), http.StatusNoContent)
	wantProblem(t, b.do(t, http.MethodGet, "/api/webhooks/"+w.ID.String(), nil, as(b.reader)), http.StatusNotFound)
	wantProblem(t, b.do(t, http.MethodGet, "/api/webhooks/"+w.ID.String()+"/deliveries", nil, as(b.reader)), http.StatusNotFound)
}

func TestChangeFeed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ada := b.createContact(t, body{"firstName": "Ada", "email": "ada@example.com"})
	wantStatus(t, b.do(t, http.MethodPatch, "/api/contacts/"+ada.ID.String(), body{"title": "CTO"}, as(b.writer)), http.StatusOK)
	wantStatus(t, b.do(t, http.MethodDelete, "/api/contacts/"+ada.ID.String(), nil, as(b.writer)), http.StatusNoContent)

	var all []changeOut
	cursor := ""
	for range 5 {
		rec := b.do(t, http.MethodGet, "/api/changes?limit=2&cursor="+cursor, nil, as(b.reader))
		wantStatus(t, rec, http.StatusOK)
		p := decode[page[changeOut]](t, rec)
		if p.NextCursor == nil {
			t.Fatal("nextCursor is null")
		}
		all = append(all, p.Data...)
		cursor = *p.NextCursor
		if len(p.Data) == 0 {
			break
		}
	}
	var types []string
	for i, c := range all {
		if c.Seq != int64(i+1) || c.ContactID == nil || *c.ContactID != ada.ID {
			t.Errorf("change %d: %+v", i, c)
		}
		types = append(types, c.Type)
	}
	if strings.Join(types, " ") != "contact.created contact.updated contact.archived" || cursor != "3" {
		t.Fatalf("feed %v, cursor %s", types, cursor)
	}
	wantFields(t, wantProblem(t, b.do(t, http.MethodGet, "/api/changes?cursor=abc&limit=0", nil, as(b.reader)), http.StatusUnprocessableEntity), "limit", "cursor")
}
