package api

import (
	"context"
	"net/http"
	"time"

	"github.com/contactd/contactd/webhook"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// webhookJSON is a webhook as the API shows it; secret only in the answer to its creation.
type webhookJSON struct {
	ID        uuid.UUID `json:"id"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	Active    bool      `json:"active"`
	Secret    string    `json:"secret,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

func toWebhookJSON(w *webhook.Webhook) webhookJSON {
	return webhookJSON{ID: w.ID, URL: w.URL, Events: w.Events, Active: w.Active, Secret: w.Secret, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
}

// deliveryJSON is one delivery attempt as the API shows it.
type deliveryJSON struct {
	ID            uuid.UUID  `json:"id"`
	EventID       string     `json:"eventId"`
	EventSeq      int64      `json:"eventSeq"`
	EventType     string     `json:"eventType"`
	Attempt       int        `json:"attempt"`
	Replay        bool       `json:"replay"`
	Status        string     `json:"status"`
	ResponseCode  *int       `json:"responseCode"`
	LatencyMS     float64    `json:"latencyMs"`
	Error         *string    `json:"error"`
	NextAttemptAt *time.Time `json:"nextAttemptAt"`
	At            time.Time  `json:"at"`
}

func toDeliveryJSON(d *webhook.Delivery) deliveryJSON {
	return deliveryJSON{
		ID: d.ID, EventID: webhook.MessageID(d.EventSeq), EventSeq: d.EventSeq, EventType: d.EventType, Attempt: d.Attempt,
		Replay: d.Replay, Status: d.Status, ResponseCode: d.ResponseCode, LatencyMS: float64(d.Latency.Microseconds()) / 1000,
		Error: d.Error, NextAttemptAt: d.NextAttemptAt, At: d.At,
	}
}

// readWebhook reads the fields a webhook body may have; required says url and events must be
// there (creation).
func readWebhook(o *object, required bool) webhook.Patch {
	var p webhook.Patch
	if v := o.str("url"); v.Set && !v.Null {
		p.URL = &v.Value
	} else if _, present := o.m["url"]; v.Null || (required && !present) {
		o.bad("url", "is required: the URL events are POSTed to")
	}
	if v := o.strings("events"); v.Set && !v.Null {
		p.Events = &v.Value
	} else if _, present := o.m["events"]; v.Null || (required && !present) {
		o.bad("events", "is required: the event types to receive")
	}
	if v := o.str("secret"); v.Set && !v.Null {
		p.Secret = &v.Value
	} else if v.Null && !required {
		o.bad("secret", "cannot be removed; send a new one to rotate it")
	}
	if v := o.boolean("active"); v.Set && !v.Null {
		p.Active = &v.Value
	} else if v.Null {
		o.bad("active", "must be true or false")
	}
	o.rejectUnknown()
	return p
}

func (s *server) createWebhook(c *gin.Context) {
	o := readBody(c)
	if o == nil {
		return
	}
	p := readWebhook(o, true)
	if !o.finish(c) {
		return
	}
	in := webhook.NewWebhook{URL: *p.URL, Events: *p.Events, Active: p.Active}
	if p.Secret != nil {
		in.Secret = *p.Secret
	}
	w, err := s.app.Webhooks.Create(c.Request.Context(), in)
	if err != nil {
		writeError(c, err)
		return
	}
	c.Header("Location", "/api/webhooks/"+w.ID.String())
	c.JSON(http.StatusCreated, toWebhookJSON(w))
}

func (s *server) getWebhook(c *gin.Context) {
	id, ok := pathID(c, "id", "webhook")
	if !ok {
		return
	}
	w, err := s.app.Webhooks.Get(c.Request.Context(), id)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, toWebhookJSON(w))
}

func (s *server) listWebhooks(c *gin.Context) {
	limit, after, errs := pageParams(c)
	if len(errs) > 0 {
		writeProblem(c, http.StatusUnprocessableEntity, "the query has invalid parameters", errs...)
		return
	}
	list, next, err := s.app.Webhooks.List(c.Request.Context(), after, limit)
	if err != nil {
		writeError(c, err)
		return
	}
	data := make([]webhookJSON, 0, len(list))
	for _, w := range list {
		data = append(data, toWebhookJSON(w))
	}
	c.JSON(http.StatusOK, gin.H{"data": data, "nextCursor": encodeCursor(next)})
}

func (s *server) updateWebhook(c *gin.Context) {
	id, ok := pathID(c, "id", "webhook")
	if !ok {
		return
	}
	o := readBody(c)
	if o == nil {
		return
	}
	p := readWebhook(o, false)
	if !o.finish(c) {
		return
	}
	w, err := s.app.Webhooks.Update(c.Request.Context(), id, p)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, toWebhookJSON(w))
}

func (s *server) deleteWebhook(c *gin.Context) {
	id, ok := pathID(c, "id", "webhook")
	if !ok {
		return
	}
	if err := s.app.Webhooks.Delete(c.Request.Context(), id); err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// listDeliveries lists a webhook's delivery attempts, newest first.
func (s *server) listDeliveries(c *gin.Context) {
	listChildren(c, "id", "webhook", func(ctx context.Context, id uuid.UUID, limit int, before *uuid.UUID) ([]*webhook.Delivery, *uuid.UUID, error) {
		return s.app.Webhooks.Deliveries(ctx, id, before, limit)
	}, toDeliveryJSON)
}

// retryDelivery replays the event of a delivery that did not succeed: 202, the attempt is
// made by a job and listed with the deliveries.
func (s *server) retryDelivery(c *gin.Context) {
	id, ok := pathID(c, "id", "webhook")
	if !ok {
		return
	}
	deliveryID, ok := pathID(c, "deliveryId", "delivery")
	if !ok {
		return
	}
	d, err := s.app.Webhooks.Retry(c.Request.Context(), id, deliveryID)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusAccepted, toDeliveryJSON(d))
}
