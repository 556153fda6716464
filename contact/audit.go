package contact

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Change is one field's value before and after a change; nil is "no value".
type Change struct {
	Before any `json:"before"`
	After  any `json:"after"`
}

// AuditEntry is one audited change.
type AuditEntry struct {
	ID         int64
	At         time.Time
	Actor      string
	Action     string
	EntityType string
	EntityID   uuid.UUID
	ContactID  *uuid.UUID
	Changes    map[string]Change
}

// Audit collects the audit entries of one transaction and writes them in one statement. Every
// change to a contact, in any package, is audited through it.
type Audit struct {
	actor   string
	entries []AuditEntry
}

// NewAudit returns an Audit of changes made by the actor of ctx (WithActor).
func NewAudit(ctx context.Context) *Audit { return &Audit{actor: ActorFrom(ctx)} }

// Actor is who the entries are audited as made by.
func (a *Audit) Actor() string { return a.actor }

// Add records one change: an action on an entity, about a contact (nil for none), with the
// changed fields.
func (a *Audit) Add(action, entityType string, entityID uuid.UUID, contactID *uuid.UUID, changes map[string]Change) {
	if changes == nil {
		changes = map[string]Change{}
	}
	a.entries = append(a.entries, AuditEntry{
		Action: action, EntityType: entityType, EntityID: entityID, ContactID: contactID, Changes: changes,
	})
}

// Flush writes the collected entries in tx.
func (a *Audit) Flush(ctx context.Context, tx pgx.Tx) error {
	if len(a.entries) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	a.Queue(b)
	return tx.SendBatch(ctx, b).Close()
}

const insertAuditSQL = `
	INSERT INTO audit_log (actor, action, entity_type, entity_id, contact_id, changes)
	SELECT $1, a, t, e, c, ch
	FROM unnest($2::text[], $3::text[], $4::uuid[], $5::uuid[], $6::jsonb[]) AS u(a, t, e, c, ch)`

// Queue adds the insert of the collected entries to a batch, so that it travels with the
// change's other statements in one round trip.
func (a *Audit) Queue(b *pgx.Batch) {
	n := len(a.entries)
	if n == 0 {
		return
	}
	actions, types := make([]string, n), make([]string, n)
	entityIDs, contactIDs := make([]uuid.UUID, n), make([]*uuid.UUID, n)
	changes := make([]map[string]Change, n)
	for i, e := range a.entries {
		actions[i], types[i], entityIDs[i], contactIDs[i], changes[i] = e.Action, e.EntityType, e.EntityID, e.ContactID, e.Changes
	}
	b.Queue(insertAuditSQL, a.actor, actions, types, entityIDs, contactIDs, changes).Exec(func(pgconn.CommandTag) error { return nil })
	a.entries = a.entries[:0]
}

// AuditTrail returns the audit entries about a contact (its own changes and its relationships')
// and about every contact merged into it, directly or down a chain of merges, oldest first, at
// most limit after the entry id after. A merge leaves history where it was written; this is
// where it follows the survivor.
func (s *Store) AuditTrail(ctx context.Context, contactID uuid.UUID, after int64, limit int) ([]AuditEntry, error) {
	rows, err := s.db.Pool.Query(ctx, `
		WITH RECURSIVE folded AS (
			SELECT $1::uuid AS id
			UNION SELECT c.id FROM contacts c JOIN folded f ON c.merged_into = f.id)
		SELECT id, at, actor, action, entity_type, entity_id, contact_id, changes
		FROM audit_log WHERE contact_id IN (SELECT id FROM folded) AND id > $2 ORDER BY id LIMIT $3`, contactID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("contact: audit trail: %w", err)
	}
	entries, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditEntry, error) {
		var e AuditEntry
		err := r.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.EntityType, &e.EntityID, &e.ContactID, &e.Changes)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("contact: audit trail: %w", err)
	}
	return entries, nil
}

// AuditTrailNewest returns the entries of AuditTrail newest first (by time, then id), except
// those about entities of the types skipped, at most limit before the entry at (beforeAt,
// beforeID) (a nil beforeAt starts from the newest; entries at beforeAt with ids below beforeID
// come next).
func (s *Store) AuditTrailNewest(ctx context.Context, contactID uuid.UUID, beforeAt *time.Time, beforeID int64, limit int, skip []string) ([]AuditEntry, error) {
	at := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	if beforeAt != nil {
		at = *beforeAt
	}
	rows, err := s.db.Pool.Query(ctx, `
		WITH RECURSIVE folded AS (
			SELECT $1::uuid AS id
			UNION SELECT c.id FROM contacts c JOIN folded f ON c.merged_into = f.id)
		SELECT id, at, actor, action, entity_type, entity_id, contact_id, changes
		FROM audit_log WHERE contact_id IN (SELECT id FROM folded) AND (at, id) < ($2, $3)
			AND entity_type <> ALL($5::text[])
		ORDER BY at DESC, id DESC LIMIT $4`, contactID, at, beforeID, limit, skip)
	if err != nil {
		return nil, fmt.Errorf("contact: audit trail: %w", err)
	}
	entries, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditEntry, error) {
		var e AuditEntry
		err := r.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.EntityType, &e.EntityID, &e.ContactID, &e.Changes)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("contact: audit trail: %w", err)
	}
	return entries, nil
}

// StrValue returns the value a nullable string has in an audit diff: nil for an absent string.
func StrValue(p *string) any { return strPtrValue(p) }

// strPtrValue returns the value for an audit diff: nil for an absent string.
func strPtrValue(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}
