package source

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Links is the contact.Owned concern of sync links: a link is one contact's identity in a
// source, and follows its contact into a merge (both links of two merged contacts point at the
// survivor) and back out of an undo.
var Links contact.Owned = contact.MovedRows{
	Concern: "syncLinks", Table: "sync_links", Column: "contact_id", Key: []string{"source_id", "remote_id"},
}

// Link ties a source's remote record to a contact, with what was last synced of it.
type Link struct {
	SourceID      uuid.UUID
	RemoteID      string
	ContactID     uuid.UUID
	ETag          *string
	RemoteUpdated *string
	// ContentHash is the hash of the record's mapped values: an unchanged record is skipped.
	ContentHash []byte
	// Payload are the record's mapped values as last synced, by field name: the base of a
	// three-way comparison with the contact and the next version of the record.
	Payload map[string]string
	// Decision says how the record found its contact ("created", "email", "match").
	Decision json.RawMessage
	Deleted  bool
	SyncedAt time.Time
}

// LinksTx returns the source's links of the remote ids, locked for the page's transaction.
func LinksTx(ctx context.Context, tx pgx.Tx, sourceID uuid.UUID, remoteIDs []string) (map[string]*Link, error) {
	rows, err := tx.Query(ctx, `SELECT source_id, remote_id, contact_id, etag, remote_updated, content_hash, payload,
			decision, deleted, synced_at
		FROM sync_links WHERE source_id = $1 AND remote_id = ANY($2) ORDER BY remote_id FOR UPDATE`, sourceID, remoteIDs)
	if err != nil {
		return nil, fmt.Errorf("source: read links: %w", err)
	}
	links, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Link, error) {
		var l Link
		err := r.Scan(&l.SourceID, &l.RemoteID, &l.ContactID, &l.ETag, &l.RemoteUpdated, &l.ContentHash, &l.Payload,
			&l.Decision, &l.Deleted, &l.SyncedAt)
		return &l, err
	})
	if err != nil {
		return nil, fmt.Errorf("source: read links: %w", err)
	}
	out := make(map[string]*Link, len(links))
	for _, l := range links {
		out[l.RemoteID] = l
	}
	return out, nil
}

// PutLinkTx creates or replaces a link.
func PutLinkTx(ctx context.Context, tx pgx.Tx, l *Link) error {
	_, err := tx.Exec(ctx, `INSERT INTO sync_links (source_id, remote_id, contact_id, etag, remote_updated, content_hash,
			payload, decision, deleted, synced_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())
		ON CONFLICT (source_id, remote_id) DO UPDATE SET contact_id = $3, etag = $4, remote_updated = $5,
			content_hash = $6, payload = $7, decision = $8, deleted = $9, synced_at = now()`,
		l.SourceID, l.RemoteID, l.ContactID, l.ETag, l.RemoteUpdated, l.ContentHash, l.Payload, l.Decision, l.Deleted)
	if err != nil {
		return fmt.Errorf("source: write link %s: %w", l.RemoteID, err)
	}
	return nil
}

// ContactLink is a contact's link as the contact shows it.
type ContactLink struct {
	SourceID uuid.UUID
	RemoteID string
	SyncedAt time.Time
}

// LinksOf returns the links of the contacts, by contact, in source then remote id order.
func (s *Store) LinksOf(ctx context.Context, contactIDs []uuid.UUID) (map[uuid.UUID][]ContactLink, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT contact_id, source_id, remote_id, synced_at FROM sync_links
		WHERE contact_id = ANY($1) ORDER BY contact_id, source_id, remote_id`, contactIDs)
	if err != nil {
		return nil, fmt.Errorf("source: links of contacts: %w", err)
	}
	defer rows.Close()
	out := map[uuid.UUID][]ContactLink{}
	for rows.Next() {
		var cid uuid.UUID
		var l ContactLink
		if err := rows.Scan(&cid, &l.SourceID, &l.RemoteID, &l.SyncedAt); err != nil {
			return nil, fmt.Errorf("source: links of contacts: %w", err)
		}
		out[cid] = append(out[cid], l)
	}
	return out, rows.Err()
}
