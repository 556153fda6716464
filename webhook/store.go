package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/contactd/contactd/event"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/internal/secret"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Webhook is a subscription: the events of the listed types are POSTed to URL, in order.
type Webhook struct {
	ID     uuid.UUID
	URL    string
	Events []string
	Active bool
	// Secret is set only on the webhook Create returns: it is never read back.
	Secret    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// NewWebhook is a subscription to create. An empty Secret is generated.
type NewWebhook struct {
	URL    string
	Events []string
	Secret string
	// Active defaults to true.
	Active *bool
}

// Patch changes a webhook: nil fields stay. A new Secret replaces the old one at once.
type Patch struct {
	URL    *string
	Events *[]string
	Secret *string
	Active *bool
}

// Store keeps webhooks and delivers to them. It is safe for concurrent use.
type Store struct {
	db    *db.DB
	guard Guard
	// sealer seals secrets; nil stores them plain.
	sealer *secret.Sealer
	client *http.Client
	// backoff are the waits after each failed attempt of an event; after the last one the
	// event is given up on (failed) and the stream goes on.
	backoff []time.Duration
}

// DefaultBackoff waits after each failed attempt: 5s, 30s, 2m, 10m, 30m, 1h, 2h, 4h, 8h, 8h,
// so that an event is retried for a little more than a day (11 attempts) before it is given
// up on.
var DefaultBackoff = []time.Duration{
	5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 8 * time.Hour,
}

// Timeout bounds one delivery attempt, from connecting to the end of the response headers.
const Timeout = 10 * time.Second

// NewStore returns the webhook store of d, refusing private addresses (see SetGuard).
func NewStore(d *db.DB) *Store {
	s := &Store{db: d, backoff: DefaultBackoff}
	s.SetGuard(Guard{})
	return s
}

// SetGuard sets which addresses webhooks may reach, at creation and at delivery.
func (s *Store) SetGuard(g Guard) {
	s.guard = g
	dialer := &net.Dialer{Timeout: Timeout, Control: g.control}
	s.client = &http.Client{
		Timeout: Timeout,
		Transport: &http.Transport{
			DialContext: dialer.DialContext, Proxy: nil, MaxIdleConnsPerHost: 4,
			IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: Timeout, ResponseHeaderTimeout: Timeout,
		},
		// A redirect is an answer like any other non-2xx: following it could lead anywhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// SetBackoff replaces the waits between attempts (tests shorten them).
func (s *Store) SetBackoff(waits []time.Duration) { s.backoff = waits }

// validate checks a webhook's fields, naming every wrong one.
func (s *Store) validate(ctx context.Context, url *string, events *[]string, secret *string) error {
	var errs db.FieldErrors
	if url != nil {
		if err := s.guard.checkURL(ctx, *url); err != nil {
			errs.Add("url", "%s", err.Error())
		}
	}
	if events != nil {
		if len(*events) == 0 {
			errs.Add("events", "must name at least one event type (%v)", event.Types)
		}
		for i, e := range *events {
			if !slices.Contains(event.Types, e) {
				errs.Add(fmt.Sprintf("events[%d]", i), "is not an event type (one of %v)", event.Types)
			} else if slices.Index(*events, e) != i {
				errs.Add(fmt.Sprintf("events[%d]", i), "is listed twice")
			}
		}
	}
	if secret != nil {
		if _, err := secretKey(*secret); err != nil {
			errs.Add("secret", "%s", err.Error())
		}
	}
	return errs.Err()
}

const webhookColumns = `id, url, events, active, created_at, updated_at`

func scanWebhook(row pgx.Row) (*Webhook, error) {
	var w Webhook
	err := row.Scan(&w.ID, &w.URL, &w.Events, &w.Active, &w.CreatedAt, &w.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, db.NotFound("no such webhook")
	}
	if err != nil {
		return nil, fmt.Errorf("webhook: read: %w", err)
	}
	return &w, nil
}

// Create stores a webhook and returns it with its secret, the only time the secret is shown.
// It receives the events that are numbered after it is created.
func (s *Store) Create(ctx context.Context, in NewWebhook) (*Webhook, error) {
	var secret *string
	if in.Secret != "" {
		secret = &in.Secret
	}
	if err := s.validate(ctx, &in.URL, &in.Events, secret); err != nil {
		return nil, err
	}
	if in.Secret == "" {
		in.Secret = newSecret()
	}
	active := in.Active == nil || *in.Active
	id := uuid.Must(uuid.NewV7())
	plain, sealed, err := s.storedSecret(id, in.Secret)
	if err != nil {
		return nil, err
	}
	var w *Webhook
	err = s.db.WriteRow(ctx, func(r pgx.Row) (err error) { w, err = scanWebhook(r); return err }, `
		INSERT INTO webhooks (id, url, events, secret, secret_sealed, active, cursor)
		VALUES ($1, $2, $3, $4, $5, $6, (SELECT coalesce(max(seq), 0) FROM events))
		RETURNING `+webhookColumns, id, in.URL, in.Events, plain, sealed, active)
	if err != nil {
		return nil, err
	}
	w.Secret = in.Secret
	return w, nil
}

// Get returns a webhook (without its secret).
func (s *Store) Get(ctx context.Context, id uuid.UUID) (*Webhook, error) {
	return scanWebhook(s.db.Pool.QueryRow(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE id = $1`, id))
}

// List returns at most limit webhooks after the id after (nil: from the first), oldest first,
// and the cursor of the next page (nil on the last).
func (s *Store) List(ctx context.Context, after *uuid.UUID, limit int) ([]*Webhook, *uuid.UUID, error) {
	if err := db.CheckLimit(limit); err != nil {
		return nil, nil, err
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT `+webhookColumns+` FROM webhooks
		WHERE $1::uuid IS NULL OR id > $1 ORDER BY id LIMIT $2`, after, limit+1)
	if err != nil {
		return nil, nil, fmt.Errorf("webhook: list: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Webhook, error) { return scanWebhook(r) })
	if err != nil {
		return nil, nil, fmt.Errorf("webhook: list: %w", err)
	}
	page, next := db.Page(list, limit, func(w *Webhook) uuid.UUID { return w.ID })
	return page, next, nil
}

// Update applies a patch. A webhook made active again resumes with the events numbered from
// then on: what happened while it was inactive is in the change feed.
func (s *Store) Update(ctx context.Context, id uuid.UUID, p Patch) (*Webhook, error) {
	if err := s.validate(ctx, p.URL, p.Events, p.Secret); err != nil {
		return nil, err
	}
	var plain *string
	var sealed []byte
	if p.Secret != nil {
		var err error
		if plain, sealed, err = s.storedSecret(id, *p.Secret); err != nil {
			return nil, err
		}
	}
	var w *Webhook
	err := s.db.WriteRow(ctx, func(r pgx.Row) (err error) { w, err = scanWebhook(r); return err }, `
		UPDATE webhooks SET url = coalesce($2, url), events = coalesce($3, events),
			secret = CASE WHEN $4::boolean THEN $6 ELSE secret END,
			secret_sealed = CASE WHEN $4::boolean THEN $7 ELSE secret_sealed END,
			cursor = CASE WHEN $5 AND NOT active THEN (SELECT coalesce(max(seq), 0) FROM events) ELSE cursor END,
			active = coalesce($5, active), updated_at = now()
		WHERE id = $1 RETURNING `+webhookColumns, id, p.URL, p.Events, p.Secret != nil, p.Active, plain, sealed)
	return w, err
}

// Delete removes a webhook and its delivery history.
func (s *Store) Delete(ctx context.Context, id uuid.UUID) error {
	tag, err := s.db.Pool.Exec(ctx, `DELETE FROM webhooks WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("webhook: delete: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return db.NotFound("no such webhook")
	}
	return nil
}
