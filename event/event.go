package event

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// The event types. Contact, relationship and consent events come from the audit log; the
// others are emitted by the package whose change causes them.
const (
	ContactCreated      = "contact.created"
	ContactUpdated      = "contact.updated"
	ContactArchived     = "contact.archived"
	ContactMerged       = "contact.merged"
	ContactUnmerged     = "contact.unmerged"
	ContactErased       = "contact.erased"
	RelationshipAdded   = "relationship.added"
	RelationshipRemoved = "relationship.removed"
	ImportFinished      = "import.finished"
	SyncFinished        = "sync.finished"
	ConsentChanged      = "consent.changed"
)

// Types lists every event type, in the order the API documents them.
var Types = []string{
	ContactCreated, ContactUpdated, ContactArchived, ContactMerged, ContactUnmerged, ContactErased,
	RelationshipAdded, RelationshipRemoved, ImportFinished, SyncFinished, ConsentChanged,
}

// Event is one change, as the feed and webhooks show it.
type Event struct {
	// Seq is the event's place in the feed: increasing, assigned after the event's
	// transaction committed.
	Seq        int64
	Type       string
	ContactID  *uuid.UUID
	OccurredAt time.Time
	Data       json.RawMessage
}

// Notification is the PostgreSQL channel notified when a transaction writes events.
const Notification = "contactd_events"

// Emit writes an event in tx, the transaction of the change that causes it. Events about
// contacts, relationships and consent must not be emitted here: auditing the change emits them.
func Emit(ctx context.Context, tx pgx.Tx, typ string, contactID *uuid.UUID, data any) error {
	_, err := tx.Exec(ctx, `INSERT INTO events (type, contact_id, data) VALUES ($1, $2, $3)`, typ, contactID, data)
	if err != nil {
		return fmt.Errorf("event: emit %s: %w", typ, err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, '')`, Notification); err != nil {
		return fmt.Errorf("event: notify: %w", err)
	}
	return nil
}

// sequenceLock is the advisory lock key that makes one sequencer run at a time.
const sequenceLock = 7_262_013_001

// sequenceBatch bounds the events one Sequence call numbers.
const sequenceBatch = 20_000

// Sequence numbers the committed events that have no seq yet, in the order they were written,
// after every event numbered before, and returns how many it numbered. A transaction that
// commits after another gets later numbers even if it wrote first, so a reader that has read up
// to seq N never sees a new event at or below N. Events about one contact are written under
// that contact's row lock, so they are numbered in the order they happened. Sequence is safe to
// call from any number of processes at once: one numbers, the others return at once.
func Sequence(ctx context.Context, d *db.DB) (int, error) {
	total := 0
	for {
		n := 0
		err := d.InTx(ctx, func(tx pgx.Tx) error {
			var locked bool
			if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, int64(sequenceLock)).Scan(&locked); err != nil || !locked {
				return err
			}
			// A statement of its own after the lock: its snapshot sees every seq committed before.
			tag, err := tx.Exec(ctx, `
				WITH next AS (
					SELECT id, row_number() OVER (ORDER BY id) AS n FROM (
						SELECT id FROM events
						WHERE seq IS NULL
						ORDER BY id LIMIT $1) AS s),
				base AS (SELECT greatest((SELECT coalesce(max(seq), 0) FROM events),
					(SELECT coalesce(max(pruned_through), 0) FROM events_horizon)) AS b)
				UPDATE events e SET seq = base.b + next.n FROM next, base WHERE e.id = next.id`, sequenceBatch)
			n = int(tag.RowsAffected())
			return err
		})
		if err != nil {
			return total, fmt.Errorf("event: sequence: %w", err)
		}
		total += n
		if n < sequenceBatch {
			return total, nil
		}
	}
}

// dataSQL is an event's data: its own, or derived from the audit entry it names (the trigger
// of migration 00021 stores the reference, not a copy); an entry that is gone leaves the
// contact's id.
const dataSQL = `coalesce(e.data, (SELECT d.data FROM audit_log a
	CROSS JOIN LATERAL event_of_audit(a.action, a.entity_type, a.entity_id, a.contact_id, a.changes) d
	WHERE a.id = e.audit_id), jsonb_build_object('contactId', e.contact_id))`

// Head returns the seq of the newest numbered event (of the newest deleted by retention when
// none is left), 0 when there has been none.
func Head(ctx context.Context, q db.Querier) (int64, error) {
	var head int64
	if err := q.QueryRow(ctx, `SELECT greatest((SELECT coalesce(max(seq), 0) FROM events),
		(SELECT coalesce(max(pruned_through), 0) FROM events_horizon))`).Scan(&head); err != nil {
		return 0, fmt.Errorf("event: head: %w", err)
	}
	return head, nil
}

// After returns at most limit numbered events with seq > after, in seq order, of the types
// given (all when types is empty) and no later than upTo (no bound when 0).
func After(ctx context.Context, q db.Querier, after, upTo int64, types []string, limit int) ([]Event, error) {
	rows, err := q.Query(ctx, `
		SELECT seq, type, contact_id, occurred_at, `+dataSQL+` FROM events e
		WHERE seq > $1 AND ($2 = 0 OR seq <= $2) AND (coalesce(cardinality($3::text[]), 0) = 0 OR type = ANY($3))
		ORDER BY seq LIMIT $4`, after, upTo, types, limit)
	if err != nil {
		return nil, fmt.Errorf("event: read: %w", err)
	}
	events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) {
		var e Event
		err := r.Scan(&e.Seq, &e.Type, &e.ContactID, &e.OccurredAt, &e.Data)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("event: read: %w", err)
	}
	return events, nil
}

// Feed is the change feed over one database.
type Feed struct{ db *db.DB }

// NewFeed returns the change feed of d.
func NewFeed(d *db.DB) *Feed { return &Feed{db: d} }

// Changes returns at most limit events after the cursor (a seq; 0 for the oldest event kept),
// in order, and the cursor to read on from: the last event's seq, or cursor when there is none
// yet. It numbers what has committed first, so a reader sees a change as soon as it commits.
// A cursor from before the retention's horizon (PrunedThrough) is KindGone: events after it
// were deleted.
func (f *Feed) Changes(ctx context.Context, cursor int64, limit int) ([]Event, int64, error) {
	if err := db.CheckLimit(limit); err != nil {
		return nil, 0, err
	}
	if cursor < 0 {
		return nil, 0, db.Invalid("cursor", "must be a seq from a previous page (0 or more)")
	}
	if _, err := Sequence(ctx, f.db); err != nil {
		return nil, 0, err
	}
	pruned, err := PrunedThrough(ctx, f.db.Pool)
	if err != nil {
		return nil, 0, err
	}
	if cursor > 0 && cursor < pruned {
		return nil, 0, db.Gone("events up to seq %d were deleted by retention, so reading on from cursor %d would skip some: "+
			"read the contacts in full, then the feed from cursor %d", pruned, cursor, pruned)
	}
	events, err := After(ctx, f.db.Pool, cursor, 0, nil, limit)
	if err != nil {
		return nil, 0, err
	}
	if len(events) > 0 {
		cursor = events[len(events)-1].Seq
	}
	return events, cursor, nil
}
