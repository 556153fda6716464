package communication

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Concern carries communications with their contact through merges, undos and erasure.
var Concern = contact.MovedRows{Concern: "communications", Table: "communications", Column: "contact_id", Key: []string{"id"}}

// Channels and directions a communication may have.
var (
	Channels   = []string{"email", "sms", "phone", "meeting", "letter", "chat"}
	Directions = []string{"inbound", "outbound"}
)

// Size limits, in characters.
const (
	MaxSubjectLen = 500
	// MaxBodyLen caps a communication's body (64 KiB of text); longer content belongs in a
	// document store with a link here.
	MaxBodyLen = 65536
)

// Communication is one logged exchange with a contact.
type Communication struct {
	ID         uuid.UUID
	ContactID  uuid.UUID
	Channel    string
	Direction  string
	Subject    string
	Body       *string
	OccurredAt time.Time
	UserID     *uuid.UUID
	Actor      string
	CreatedAt  time.Time
}

// NewCommunication is the input of Record. A zero OccurredAt is the time of recording.
type NewCommunication struct {
	Channel, Direction, Subject string
	Body                        *string
	OccurredAt                  time.Time
	UserID                      *uuid.UUID
}

// Validate trims n in place and reports every invalid field.
func (n *NewCommunication) Validate(now time.Time) error {
	var errs db.FieldErrors
	n.Channel = strings.ToLower(strings.TrimSpace(n.Channel))
	if !slices.Contains(Channels, n.Channel) {
		errs.Add("channel", "must be one of %s", strings.Join(Channels, ", "))
	}
	n.Direction = strings.ToLower(strings.TrimSpace(n.Direction))
	if !slices.Contains(Directions, n.Direction) {
		errs.Add("direction", "must be inbound or outbound")
	}
	n.Subject = contact.CleanText(&errs, "subject", n.Subject, MaxSubjectLen)
	if n.Body != nil {
		if err := checkBody(*n.Body); err != "" {
			errs.Add("body", "%s", err)
		}
	}
	if n.OccurredAt.IsZero() {
		n.OccurredAt = now
	} else if n.OccurredAt.After(now.Add(5 * time.Minute)) {
		errs.Add("occurredAt", "must not be in the future")
	}
	if n.UserID != nil && *n.UserID == uuid.Nil {
		errs.Add("userId", "must be a user id")
	}
	return errs.Err()
}

// checkBody allows line breaks and tabs in a body, unlike other text.
func checkBody(s string) string {
	var errs db.FieldErrors
	flat := strings.NewReplacer("\n", " ", "\r", " ", "\t", " ").Replace(s)
	contact.CleanText(&errs, "body", flat, MaxBodyLen)
	if len(errs) > 0 {
		return errs[0].Message
	}
	return ""
}

// Store keeps communications and builds timelines. It is safe for concurrent use.
type Store struct {
	db       *db.DB
	contacts *contact.Store
}

// NewStore returns a Store over d that reads audit trails from contacts.
func NewStore(d *db.DB, contacts *contact.Store) *Store { return &Store{db: d, contacts: contacts} }

// Record validates and logs a communication with a contact (with the survivor, when the contact
// was merged), audited in the same transaction. An unknown contact is KindNotFound; an unknown
// user names userId.
func (s *Store) Record(ctx context.Context, contactID uuid.UUID, in NewCommunication) (*Communication, error) {
	if err := in.Validate(time.Now()); err != nil {
		return nil, err
	}
	c := &Communication{ID: uuid.Must(uuid.NewV7()), Channel: in.Channel, Direction: in.Direction, Subject: in.Subject,
		Body: in.Body, OccurredAt: in.OccurredAt.UTC(), UserID: in.UserID, Actor: contact.ActorFrom(ctx)}
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		// Communications follow their contact: one logged with a merged contact goes to its
		// survivor, share-locked so that it is not merged away meanwhile.
		err := tx.QueryRow(ctx, `
			WITH RECURSIVE chain (id, merged_into, depth) AS (
				SELECT id, merged_into, 0 FROM contacts WHERE id = $1
				UNION ALL
				SELECT c.id, c.merged_into, chain.depth + 1 FROM contacts c JOIN chain ON c.id = chain.merged_into
				WHERE chain.depth < 1000)
			SELECT c.id FROM contacts c WHERE c.id = (SELECT id FROM chain ORDER BY depth DESC LIMIT 1) FOR SHARE`,
			contactID).Scan(&c.ContactID)
		if errors.Is(err, pgx.ErrNoRows) {
			return db.NotFound("contact %s not found", contactID)
		}
		if err != nil {
			return fmt.Errorf("communication: record for %s: %w", contactID, err)
		}
		err = tx.QueryRow(ctx, `INSERT INTO communications (id, contact_id, channel, direction, subject, body, occurred_at, user_id, actor)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING created_at`,
			c.ID, c.ContactID, c.Channel, c.Direction, c.Subject, c.Body, c.OccurredAt, c.UserID, c.Actor).Scan(&c.CreatedAt)
		if db.Code(err) == db.CodeFKViolation {
			return db.Invalid("userId", "is not a known user")
		}
		if err != nil {
			return fmt.Errorf("communication: record for %s: %w", contactID, err)
		}
		a := contact.NewAudit(ctx)
		cid := c.ContactID
		a.Add("log", "communication", c.ID, &cid, map[string]contact.Change{
			"channel": {After: c.Channel}, "direction": {After: c.Direction}, "subject": {After: c.Subject}})
		return a.Flush(ctx, tx)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Cursor is a keyset position in a newest-first list: the time and id of the last item seen.
type Cursor struct {
	At time.Time
	ID string
}

// List returns a contact's communications (its survivor's, when merged), newest first, at most
// limit after cursor (nil: from the newest), and the cursor of the next page (nil at the end).
func (s *Store) List(ctx context.Context, contactID uuid.UUID, after *Cursor, limit int) ([]Communication, *Cursor, error) {
	if err := db.CheckLimit(limit); err != nil {
		return nil, nil, err
	}
	root, err := s.root(ctx, contactID)
	if err != nil {
		return nil, nil, err
	}
	cs, err := s.list(ctx, root, after, limit+1)
	if err != nil {
		return nil, nil, err
	}
	var next *Cursor
	if len(cs) > limit {
		cs = cs[:limit]
		last := cs[limit-1]
		next = &Cursor{At: last.OccurredAt, ID: last.ID.String()}
	}
	return cs, next, nil
}

func (s *Store) list(ctx context.Context, contactID uuid.UUID, after *Cursor, limit int) ([]Communication, error) {
	at, id := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), uuid.Max
	if after != nil {
		at = after.At
		if v, err := uuid.Parse(after.ID); err == nil {
			id = v
		}
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT id, contact_id, channel, direction, subject, body, occurred_at, user_id, actor, created_at
		FROM communications WHERE contact_id = $1 AND (occurred_at, id) < ($2, $3)
		ORDER BY occurred_at DESC, id DESC LIMIT $4`, contactID, at, id, limit)
	if err != nil {
		return nil, fmt.Errorf("communication: list for %s: %w", contactID, err)
	}
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Communication, error) {
		var c Communication
		err := r.Scan(&c.ID, &c.ContactID, &c.Channel, &c.Direction, &c.Subject, &c.Body, &c.OccurredAt, &c.UserID, &c.Actor, &c.CreatedAt)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("communication: list for %s: %w", contactID, err)
	}
	return cs, nil
}

// root returns the contact at the end of id's merges (id when it is not merged).
func (s *Store) root(ctx context.Context, id uuid.UUID) (uuid.UUID, error) {
	c, err := s.contacts.GetContact(ctx, id)
	if err != nil {
		return uuid.Nil, err
	}
	if c.MergedInto != nil {
		return *c.MergedInto, nil
	}
	return c.ID, nil
}
