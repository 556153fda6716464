package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/contactd/contactd/event"
	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// The statuses of a delivery attempt.
const (
	StatusSucceeded = "succeeded"
	// StatusRetrying is a failed attempt the stream tries again at NextAttemptAt.
	StatusRetrying = "retrying"
	// StatusFailed is a failed attempt that is not retried: the last of an event, or a replay.
	StatusFailed = "failed"
)

// Delivery is one attempt to deliver one event to one webhook.
type Delivery struct {
	ID        uuid.UUID
	WebhookID uuid.UUID
	EventSeq  int64
	EventType string
	// Attempt counts the attempts of this event to this webhook, from 1.
	Attempt int
	// Replay marks an attempt asked for through Retry, outside the ordered stream.
	Replay        bool
	Status        string
	ResponseCode  *int
	Latency       time.Duration
	Error         *string
	NextAttemptAt *time.Time
	At            time.Time
}

// message is the JSON body of a delivery.
type message struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	OccurredAt time.Time       `json:"occurredAt"`
	Data       json.RawMessage `json:"data"`
}

// MessageID is the Webhook-Id of an event: the same on every attempt, so receivers can drop
// duplicates.
func MessageID(seq int64) string { return "evt_" + strconv.FormatInt(seq, 10) }

// target is what delivering needs of a webhook.
type target struct {
	id     uuid.UUID
	url    string
	secret string
	events []string
	active bool
	cursor int64
}

// target reads what delivering needs of a webhook, its secret opened (pgx.ErrNoRows when
// there is no such webhook).
func (s *Store) target(ctx context.Context, webhookID uuid.UUID, t *target) error {
	var plain *string
	var sealed []byte
	err := s.db.Pool.QueryRow(ctx, `SELECT id, url, secret, secret_sealed, events, active, cursor FROM webhooks WHERE id = $1`, webhookID).
		Scan(&t.id, &t.url, &plain, &sealed, &t.events, &t.active, &t.cursor)
	if err != nil {
		return err
	}
	t.secret, err = s.openSecret(t.id, plain, sealed)
	return err
}

// send POSTs one event and returns the attempt (not yet stored).
func (s *Store) send(ctx context.Context, t *target, e event.Event) *Delivery {
	d := &Delivery{ID: uuid.Must(uuid.NewV7()), WebhookID: t.id, EventSeq: e.Seq, EventType: e.Type}
	fail := func(msg string) *Delivery {
		if len(msg) > 500 {
			msg = msg[:500]
		}
		d.Status, d.Error = StatusFailed, &msg
		return d
	}
	id := MessageID(e.Seq)
	body, err := json.Marshal(message{ID: id, Type: e.Type, OccurredAt: e.OccurredAt.UTC(), Data: e.Data})
	if err != nil {
		return fail("encode: " + err.Error())
	}
	now := time.Now()
	sig, err := Sign(t.secret, id, now, body)
	if err != nil {
		return fail(err.Error())
	}
	req, err := newRequest(ctx, t.url, body)
	if err != nil {
		return fail(err.Error())
	}
	req.Header.Set("Webhook-Id", id)
	req.Header.Set("Webhook-Timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("Webhook-Signature", sig)
	resp, err := s.client.Do(req)
	d.Latency = time.Since(now)
	if err != nil {
		return fail(err.Error())
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	_ = resp.Body.Close()
	d.ResponseCode = &resp.StatusCode
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fail(fmt.Sprintf("the receiver answered %d", resp.StatusCode))
	}
	d.Status = StatusSucceeded
	return d
}

// record stores attempts and, when advance, moves the webhook's stream past the last one's
// event, in one transaction. Each attempt's number counts the earlier attempts of its event.
func (s *Store) record(ctx context.Context, ds []*Delivery, advance bool) error {
	if len(ds) == 0 {
		return nil
	}
	n := len(ds)
	ids, seqs, types := make([]uuid.UUID, n), make([]int64, n), make([]string, n)
	statuses, codes, latencies := make([]string, n), make([]*int, n), make([]float64, n)
	errs, nexts := make([]*string, n), make([]*time.Time, n)
	for i, d := range ds {
		ids[i], seqs[i], types[i], statuses[i], codes[i] = d.ID, d.EventSeq, d.EventType, d.Status, d.ResponseCode
		latencies[i], errs[i], nexts[i] = float64(d.Latency)/float64(time.Millisecond), d.Error, d.NextAttemptAt
	}
	return s.db.InTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO webhook_deliveries (id, webhook_id, event_seq, event_type, attempt, replay, status,
				response_code, latency_ms, error, next_attempt_at)
			SELECT u.id, $2, u.seq, u.type,
				1 + (SELECT count(*) FROM webhook_deliveries d WHERE d.webhook_id = $2 AND d.event_seq = u.seq),
				$3, u.status, u.code, u.latency, u.err, u.next
			FROM unnest($1::uuid[], $4::bigint[], $5::text[], $6::text[], $7::int[], $8::float8[], $9::text[], $10::timestamptz[])
				AS u(id, seq, type, status, code, latency, err, next)`,
			ids, ds[0].WebhookID, ds[0].Replay, seqs, types, statuses, codes, latencies, errs, nexts)
		if db.Code(err) == db.CodeFKViolation {
			return nil // the webhook was deleted meanwhile
		}
		if err != nil || !advance {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE webhooks SET cursor = greatest(cursor, $2) WHERE id = $1`, ds[0].WebhookID, seqs[n-1])
		return err
	})
}

// attempts returns how many times an event has been attempted to a webhook in its stream.
func (s *Store) attempts(ctx context.Context, webhookID uuid.UUID, seq int64) (int, error) {
	var n int
	err := s.db.Pool.QueryRow(ctx, `SELECT count(*) FROM webhook_deliveries
		WHERE webhook_id = $1 AND event_seq = $2 AND NOT replay`, webhookID, seq).Scan(&n)
	return n, err
}

// streamBatch is how many events a stream reads and records at once; streamBudget bounds one
// run; streamLinger is how long a stream that has caught up waits for more before it ends,
// so that events committed just after it caught up do not wait for the next dispatch.
const (
	streamBatch  = 100
	streamBudget = 30 * time.Second
	streamLinger = time.Second
	streamPoll   = 10 * time.Millisecond
)

// Deliver runs a webhook's ordered stream: it POSTs, one after the other, the webhook's events
// after its cursor, until none is left (done) or an attempt fails. A failed attempt is
// retried after the next wait of the backoff, holding the events behind it so that they arrive
// in order: Deliver returns that wait as again. After the last wait the event is given up on
// (failed; Retry replays it) and the stream goes on. A stream that runs out of its time budget
// returns again 0 to let other work run. An inactive or deleted webhook is done. Succeeded
// attempts are recorded a batch at a time: after a crash, the unrecorded ones are sent again
// (receivers drop duplicates by Webhook-Id).
func (s *Store) Deliver(ctx context.Context, webhookID uuid.UUID) (again time.Duration, done bool, err error) {
	start, idleSince := time.Now(), time.Now()
	for time.Since(start) < streamBudget {
		var t target
		err := s.target(ctx, webhookID, &t)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && !t.active) {
			return 0, true, nil
		}
		if err != nil {
			return 0, false, fmt.Errorf("webhook: deliver %s: %w", webhookID, err)
		}
		head, err := event.Head(ctx, s.db.Pool)
		if err != nil {
			return 0, false, err
		}
		if head <= t.cursor {
			if time.Since(idleSince) > streamLinger {
				return 0, true, nil
			}
			select {
			case <-ctx.Done():
				return 0, true, nil
			case <-time.After(streamPoll):
			}
			if _, err := event.Sequence(ctx, s.db); err != nil {
				return 0, false, err
			}
			continue
		}
		evs, err := event.After(ctx, s.db.Pool, t.cursor, head, t.events, streamBatch)
		if err != nil {
			return 0, false, err
		}
		if wait, err := s.deliverBatch(ctx, &t, evs); err != nil || wait > 0 {
			return wait, false, err
		}
		if len(evs) < streamBatch {
			// Every subscribed event up to head is delivered: skip the rest.
			_, err := s.db.Pool.Exec(ctx, `UPDATE webhooks SET cursor = greatest(cursor, $2) WHERE id = $1`, webhookID, head)
			if err != nil {
				return 0, false, fmt.Errorf("webhook: advance %s: %w", webhookID, err)
			}
		}
		idleSince = time.Now()
	}
	return 0, false, nil
}

// deliverBatch attempts events of a stream in order and records the attempts; it stops at
// the first failure that is to be retried and returns the wait before the next attempt.
func (s *Store) deliverBatch(ctx context.Context, t *target, evs []event.Event) (time.Duration, error) {
	var ok []*Delivery
	for _, e := range evs {
		d := s.send(ctx, t, e)
		if ctx.Err() != nil {
			// Shutting down: not the receiver's failure. What succeeded is kept.
			return 0, errors.Join(ctx.Err(), s.record(context.WithoutCancel(ctx), ok, true))
		}
		if d.Status == StatusSucceeded {
			ok = append(ok, d)
			continue
		}
		if err := s.record(ctx, ok, true); err != nil {
			return 0, fmt.Errorf("webhook: record deliveries: %w", err)
		}
		ok = nil
		n, err := s.attempts(ctx, t.id, e.Seq)
		if err != nil {
			return 0, fmt.Errorf("webhook: attempts: %w", err)
		}
		var wait time.Duration
		if n < len(s.backoff) {
			wait = s.backoff[n]
			next := time.Now().Add(wait)
			d.Status, d.NextAttemptAt = StatusRetrying, &next
		}
		if err := s.record(ctx, []*Delivery{d}, wait == 0); err != nil {
			return 0, fmt.Errorf("webhook: record delivery: %w", err)
		}
		if wait > 0 {
			return wait, nil
		}
	}
	if err := s.record(ctx, ok, true); err != nil {
		return 0, fmt.Errorf("webhook: record deliveries: %w", err)
	}
	return 0, nil
}

// Deliveries returns at most limit attempts to a webhook, newest first, before the attempt id
// before (nil: from the newest), and the cursor of the next page.
func (s *Store) Deliveries(ctx context.Context, webhookID uuid.UUID, before *uuid.UUID, limit int) ([]*Delivery, *uuid.UUID, error) {
	if err := db.CheckLimit(limit); err != nil {
		return nil, nil, err
	}
	if _, err := s.Get(ctx, webhookID); err != nil {
		return nil, nil, err
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries
		WHERE webhook_id = $1 AND ($2::uuid IS NULL OR id < $2) ORDER BY id DESC LIMIT $3`, webhookID, before, limit+1)
	if err != nil {
		return nil, nil, fmt.Errorf("webhook: deliveries: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Delivery, error) { return scanDelivery(r) })
	if err != nil {
		return nil, nil, fmt.Errorf("webhook: deliveries: %w", err)
	}
	page, next := db.Page(list, limit, func(d *Delivery) uuid.UUID { return d.ID })
	return page, next, nil
}

const deliveryColumns = `id, webhook_id, event_seq, event_type, attempt, replay, status, response_code,
	latency_ms, error, next_attempt_at, at`

func scanDelivery(row pgx.Row) (*Delivery, error) {
	var d Delivery
	var ms float64
	err := row.Scan(&d.ID, &d.WebhookID, &d.EventSeq, &d.EventType, &d.Attempt, &d.Replay, &d.Status,
		&d.ResponseCode, &ms, &d.Error, &d.NextAttemptAt, &d.At)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, db.NotFound("no such delivery")
	}
	if err != nil {
		return nil, err
	}
	d.Latency = time.Duration(ms * float64(time.Millisecond))
	return &d, nil
}

// Retry enqueues a replay of a delivery's event that did not succeed: one attempt, outside
// the ordered stream (the stream has moved on), recorded like any other. A succeeded delivery
// is a conflict.
func (s *Store) Retry(ctx context.Context, webhookID, deliveryID uuid.UUID) (*Delivery, error) {
	var d *Delivery
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		d, err = scanDelivery(tx.QueryRow(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries
			WHERE id = $1 AND webhook_id = $2`, deliveryID, webhookID))
		if err != nil {
			return err
		}
		if d.Status == StatusSucceeded {
			return db.Conflict("the delivery succeeded: there is nothing to retry")
		}
		_, err = s.db.Jobs.InsertTx(ctx, tx, ReplayArgs{WebhookID: webhookID, EventSeq: d.EventSeq}, nil)
		return err
	})
	return d, err
}

// Replay attempts one event to a webhook once, outside its stream, and records the attempt.
func (s *Store) Replay(ctx context.Context, webhookID uuid.UUID, seq int64) error {
	var t target
	err := s.target(ctx, webhookID, &t)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("webhook: replay: %w", err)
	}
	evs, err := event.After(ctx, s.db.Pool, seq-1, seq, nil, 1)
	if err != nil || len(evs) == 0 {
		return err
	}
	d := s.send(ctx, &t, evs[0])
	d.Replay = true
	return s.record(ctx, []*Delivery{d}, false)
}

func newRequest(ctx context.Context, url string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "contactd-webhooks/1")
	return req, nil
}
