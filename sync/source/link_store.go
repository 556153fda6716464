package source

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Deleter says who deleted a deleted link's record.
type Deleter string

// Who deleted a record.
const (
	DeletedRemotely Deleter = "remote" // it went remotely; its contact was archived
	DeletedLocally  Deleter = "local"  // its contact was archived or erased here; deleted remotely
	DeletedByMerge  Deleter = "merge"  // its contact was merged away; deleted remotely
)

// State is a record's content as contactd maps it: the base of the three-way merge.
type State struct {
	// Values are the contact fields by name.
	Values map[string]string `json:"values"`
	// Emails and Phones are the further addresses and numbers (the contact's alternates) and
	// Tags the categories (the contact's tags), sorted; nil (JSON null) when the source does
	// not carry them, empty when it carries none.
	Emails []string `json:"emails"`
	Phones []string `json:"phones"`
	Tags   []string `json:"tags"`
}

// Link ties a source's remote record to a contact, with what was last synced of it.
type Link struct {
	SourceID      uuid.UUID
	RemoteID      string
	ContactID     uuid.UUID
	ETag          *string
	RemoteUpdated *string
	// ContentHash is the hash of the record's state as last synced (either way): a pulled
	// record with the same hash is skipped.
	ContentHash []byte
	// Payload is the record's state as last synced: the base of a three-way comparison with
	// the contact and the next version of the record.
	Payload State
	// Raw is the remote document as last received (a vCard), handed back to the connector on
	// a write.
	Raw []byte
	// Decision says how the record found its contact ("created", "email", "match").
	Decision json.RawMessage
	Deleted  bool
	// DeletedBy says who deleted a deleted record; ArchivedContact that this link's remote
	// delete archived its contact (a record that comes back un-archives it).
	DeletedBy       *Deleter
	ArchivedContact bool
	// MergedFrom is the contact the link belonged to before a merge moved it to the survivor.
	MergedFrom *uuid.UUID
	SyncedAt   time.Time
}

const linkColumns = `source_id, remote_id, contact_id, etag, remote_updated, content_hash, payload, raw,
	decision, deleted, deleted_by, archived_contact, merged_from, synced_at`

func scanLink(r pgx.Row) (*Link, error) {
	var l Link
	err := r.Scan(&l.SourceID, &l.RemoteID, &l.ContactID, &l.ETag, &l.RemoteUpdated, &l.ContentHash, &l.Payload, &l.Raw,
		&l.Decision, &l.Deleted, &l.DeletedBy, &l.ArchivedContact, &l.MergedFrom, &l.SyncedAt)
	return &l, err
}

// LinksTx returns the source's links of the remote ids, locked for the page's transaction.
func LinksTx(ctx context.Context, tx pgx.Tx, sourceID uuid.UUID, remoteIDs []string) (map[string]*Link, error) {
	// A join on unnest, not = ANY: see contact.ActiveWithEmailsTx.
	rows, err := tx.Query(ctx, `SELECT `+prefixed("l.", linkColumns)+`
		FROM unnest($2::text[]) AS k(id) JOIN sync_links l ON l.source_id = $1 AND l.remote_id = k.id
		ORDER BY l.remote_id FOR UPDATE OF l`, sourceID, remoteIDs)
	if err != nil {
		return nil, fmt.Errorf("source: read links: %w", err)
	}
	links, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Link, error) { return scanLink(r) })
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
	return PutLinksTx(ctx, tx, []*Link{l})
}

// PutLinksTx creates or replaces links, in one statement. A link's SyncedAt is when what it
// records was read (a push reads the contact before writing it remotely); zero is now.
func PutLinksTx(ctx context.Context, tx pgx.Tx, ls []*Link) error {
	if len(ls) == 0 {
		return nil
	}
	n := len(ls)
	src, cid := make([]uuid.UUID, n), make([]uuid.UUID, n)
	rid := make([]string, n)
	etag, upd := make([]*string, n), make([]*string, n)
	hash, raw := make([][]byte, n), make([][]byte, n)
	payload, decision := make([]State, n), make([]json.RawMessage, n)
	deleted, archived := make([]bool, n), make([]bool, n)
	by := make([]*string, n)
	from := make([]*uuid.UUID, n)
	at := make([]*time.Time, n)
	for i, l := range ls {
		src[i], rid[i], cid[i], etag[i], upd[i], hash[i], payload[i], raw[i] = l.SourceID, l.RemoteID, l.ContactID, l.ETag,
			l.RemoteUpdated, l.ContentHash, l.Payload, l.Raw
		decision[i], deleted[i], archived[i], from[i] = l.Decision, l.Deleted, l.ArchivedContact, l.MergedFrom
		if decision[i] == nil {
			decision[i] = json.RawMessage(`{}`)
		}
		if !l.SyncedAt.IsZero() {
			at[i] = &l.SyncedAt
		}
		if l.DeletedBy != nil {
			s := string(*l.DeletedBy)
			by[i] = &s
		}
	}
	_, err := tx.Exec(ctx, `INSERT INTO sync_links (source_id, remote_id, contact_id, etag, remote_updated, content_hash,
			payload, raw, decision, deleted, deleted_by, archived_contact, merged_from, synced_at)
		SELECT s, r, c, e, u, h, p, w, d, x, b, a, f, coalesce(t, now()) FROM unnest($1::uuid[], $2::text[], $3::uuid[],
			$4::text[], $5::text[], $6::bytea[], $7::jsonb[], $8::bytea[], $9::jsonb[], $10::bool[], $11::text[], $12::bool[],
			$13::uuid[], $14::timestamptz[]) AS u(s, r, c, e, u, h, p, w, d, x, b, a, f, t)
		ON CONFLICT (source_id, remote_id) DO UPDATE SET contact_id = excluded.contact_id, etag = excluded.etag,
			remote_updated = excluded.remote_updated, content_hash = excluded.content_hash, payload = excluded.payload,
			raw = excluded.raw, decision = excluded.decision, deleted = excluded.deleted, deleted_by = excluded.deleted_by,
			archived_contact = excluded.archived_contact, merged_from = excluded.merged_from, synced_at = excluded.synced_at`,
		src, rid, cid, etag, upd, hash, payload, raw, decision, deleted, by, archived, from, at)
	if err != nil {
		return fmt.Errorf("source: write links: %w", err)
	}
	return nil
}

// TouchLinksTx records a record's new ETag and document when its content did not change (the
// server rewrote it, or it is our own write coming back), without marking it synced again.
func TouchLinksTx(ctx context.Context, tx pgx.Tx, sourceID uuid.UUID, remoteID string, etag *string, raw []byte) error {
	_, err := tx.Exec(ctx, `UPDATE sync_links SET etag = $3, raw = coalesce($4, raw) WHERE source_id = $1 AND remote_id = $2`,
		sourceID, remoteID, etag, raw)
	if err != nil {
		return fmt.Errorf("source: touch link %s: %w", remoteID, err)
	}
	return nil
}

// DeleteLinkTx forgets a link (its record was recreated under another id).
func DeleteLinkTx(ctx context.Context, tx pgx.Tx, sourceID uuid.UUID, remoteID string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM sync_links WHERE source_id = $1 AND remote_id = $2`, sourceID, remoteID); err != nil {
		return fmt.Errorf("source: delete link %s: %w", remoteID, err)
	}
	return nil
}

// SeenTx marks the links of remote ids as listed by the run (a full listing; see SweepTx).
func SeenTx(ctx context.Context, tx pgx.Tx, sourceID, runID uuid.UUID, remoteIDs []string) error {
	if _, err := tx.Exec(ctx, `UPDATE sync_links l SET seen_run = $2 FROM unnest($3::text[]) AS k(id)
		WHERE l.source_id = $1 AND l.remote_id = k.id`,
		sourceID, runID, remoteIDs); err != nil {
		return fmt.Errorf("source: mark links seen: %w", err)
	}
	return nil
}

// UnseenTx returns, locked, the source's live links a full listing by the run did not see
// (their records are gone remotely), at most limit.
func UnseenTx(ctx context.Context, tx pgx.Tx, sourceID, runID uuid.UUID, limit int) ([]*Link, error) {
	rows, err := tx.Query(ctx, `SELECT `+linkColumns+` FROM sync_links
		WHERE source_id = $1 AND NOT deleted AND seen_run IS DISTINCT FROM $2 ORDER BY remote_id LIMIT $3 FOR UPDATE`,
		sourceID, runID, limit)
	if err != nil {
		return nil, fmt.Errorf("source: unseen links: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Link, error) { return scanLink(r) })
	if err != nil {
		return nil, fmt.Errorf("source: unseen links: %w", err)
	}
	return out, nil
}

// LinkedElsewhereTx says whether another live link of the source (another remote record, not
// deleted) points at the contact: two cards of one person linked to one contact.
func LinkedElsewhereTx(ctx context.Context, tx pgx.Tx, sourceID, contactID uuid.UUID, remoteID string) (bool, error) {
	var ok bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sync_links
		WHERE source_id = $1 AND contact_id = $2 AND remote_id <> $3 AND NOT deleted)`, sourceID, contactID, remoteID).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("source: other links of contact %s: %w", contactID, err)
	}
	return ok, nil
}

// LiveLinks counts the source's links whose records were not deleted.
func (s *Store) LiveLinks(ctx context.Context, sourceID uuid.UUID) (int64, error) {
	var n int64
	if err := s.db.Pool.QueryRow(ctx, `SELECT count(*) FROM sync_links WHERE source_id = $1 AND NOT deleted`, sourceID).Scan(&n); err != nil {
		return 0, fmt.Errorf("source: count links: %w", err)
	}
	return n, nil
}

// SeenBy counts the source's links the run's listing saw.
func (s *Store) SeenBy(ctx context.Context, sourceID, runID uuid.UUID) (int64, error) {
	var n int64
	if err := s.db.Pool.QueryRow(ctx, `SELECT count(*) FROM sync_links WHERE source_id = $1 AND seen_run = $2`, sourceID, runID).Scan(&n); err != nil {
		return 0, fmt.Errorf("source: count seen links: %w", err)
	}
	return n, nil
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

// MarkSyncedTx records that the links' contacts were found in step with their records at.
func MarkSyncedTx(ctx context.Context, tx pgx.Tx, sourceID uuid.UUID, remoteIDs []string, at time.Time) error {
	if _, err := tx.Exec(ctx, `UPDATE sync_links SET synced_at = greatest(synced_at, $3) WHERE source_id = $1 AND remote_id = ANY($2)`,
		sourceID, remoteIDs, at); err != nil {
		return fmt.Errorf("source: mark links synced: %w", err)
	}
	return nil
}

// PushReason says why a link's record is to be written remotely.
type PushReason string

// The push reasons.
const (
	PushUpdate   PushReason = "update"   // its contact changed since the last sync
	PushDelete   PushReason = "delete"   // its contact was archived here
	PushMerged   PushReason = "merged"   // its contact was merged away (propagateMerges)
	PushRecreate PushReason = "recreate" // deleted remotely by a merge or an archive that was undone
)

// PushCandidate is a link whose record may need writing remotely.
type PushCandidate struct {
	Link   *Link
	Reason PushReason
}

// PushCandidates returns the source's links after remote id after (in remote id order, at
// most limit) whose record may need writing remotely: their contact changed since they were
// synced (its row or any audited change to it), was archived, merged away (when propagate), or
// is active again after its record was deleted by a merge or an archive. With a scan that
// has a watermark (BeginPush), only the links of the contacts changed since it are looked at:
// every reason above is a change to the contact (a merge writes its survivor, an undo and an
// un-archive their contacts), so the work follows the changes, not the links.
func (s *Store) PushCandidates(ctx context.Context, sourceID uuid.UUID, propagate bool, scan *PushScan, after string, limit int) ([]PushCandidate, error) {
	from := `sync_links l JOIN contacts c ON c.id = l.contact_id`
	args := []any{sourceID, after, propagate, limit}
	if scan != nil && scan.Since != nil {
		// A join on unnest, not = ANY: see contact.ActiveWithEmailsTx.
		from = `unnest($5::uuid[]) AS k(id) JOIN sync_links l ON l.contact_id = k.id JOIN contacts c ON c.id = l.contact_id`
		args = append(args, scan.Changed)
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT `+prefixed("l.", linkColumns)+`,
			CASE WHEN l.deleted THEN 'recreate' WHEN l.merged_from IS NOT NULL THEN 'merged'
				WHEN c.status = 'archived' THEN 'delete' ELSE 'update' END
		FROM `+from+`
		WHERE l.source_id = $1 AND l.remote_id > $2 AND (
			(NOT l.deleted AND l.merged_from IS NOT NULL AND $3)
			OR (NOT l.deleted AND l.merged_from IS NULL AND c.status IN ('active', 'archived') AND (c.updated_at > l.synced_at
				OR EXISTS (SELECT 1 FROM audit_log a WHERE a.contact_id = l.contact_id AND a.at > l.synced_at)))
			OR (l.deleted AND l.deleted_by IN ('merge', 'local') AND l.merged_from IS NULL AND c.status = 'active'))
		ORDER BY l.remote_id LIMIT $4`, args...)
	if err != nil {
		return nil, fmt.Errorf("source: push candidates: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PushCandidate, error) {
		var l Link
		var reason PushReason
		err := r.Scan(&l.SourceID, &l.RemoteID, &l.ContactID, &l.ETag, &l.RemoteUpdated, &l.ContentHash, &l.Payload, &l.Raw,
			&l.Decision, &l.Deleted, &l.DeletedBy, &l.ArchivedContact, &l.MergedFrom, &l.SyncedAt, &reason)
		return PushCandidate{Link: &l, Reason: reason}, err
	})
	if err != nil {
		return nil, fmt.Errorf("source: push candidates: %w", err)
	}
	return out, nil
}

// PushScan is where a push looks for changes: Since, the source's watermark (nil: every link),
// the contacts Changed since (audited or updated), and Next, the watermark to record when the
// push ends without record errors (AdvancePush).
type PushScan struct {
	Since   *time.Time
	Changed []uuid.UUID
	Next    time.Time
}

// BeginPush reads the source's push watermark, the contacts changed since, and the next
// watermark: now, or the start of the oldest other transaction still open if earlier (a change
// it commits later carries that start as its time, so it is at or after Next and the next push
// sees it).
func (s *Store) BeginPush(ctx context.Context, sourceID uuid.UUID) (*PushScan, error) {
	var p PushScan
	err := s.db.Pool.QueryRow(ctx, `SELECT push_watermark, least(now(), (SELECT min(xact_start) FROM pg_stat_activity
			WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid())) FROM sync_sources WHERE id = $1`, sourceID).Scan(&p.Since, &p.Next)
	if err != nil {
		return nil, fmt.Errorf("source: push watermark of %s: %w", sourceID, err)
	}
	if p.Since == nil {
		return &p, nil
	}
	links, err := s.LiveLinks(ctx, sourceID)
	if err != nil {
		return nil, err
	}
	// The changes read are bounded by the links: a watermark held back for long (a record
	// that fails on every push keeps it) would otherwise make every push read all the changes
	// since. Past the bound, the push looks at every link instead, as a first push does.
	limit := changesPerLink*links + minChangesRead
	rows, err := s.db.Pool.Query(ctx, `SELECT a.contact_id FROM audit_log a WHERE a.at >= $1 AND a.contact_id IS NOT NULL
		UNION ALL SELECT c.id FROM contacts c WHERE c.updated_at >= $1 LIMIT $2`, *p.Since, limit)
	if err != nil {
		return nil, fmt.Errorf("source: contacts changed since %s: %w", p.Since, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("source: contacts changed since %s: %w", p.Since, err)
	}
	if int64(len(ids)) >= limit {
		p.Since = nil
		return &p, nil
	}
	seen := make(map[uuid.UUID]bool, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			p.Changed = append(p.Changed, id)
		}
	}
	return &p, nil
}

// changesPerLink and minChangesRead bound the changes BeginPush reads (changesPerLink a link,
// at least minChangesRead) before it looks at every link instead.
const (
	changesPerLink = 4
	minChangesRead = 1000
)

// AdvancePush records a push's watermark (PushScan.Next) after a push that wrote or settled
// every candidate: the next push looks at the changes since. A push with record errors keeps
// the old watermark, so the failed records are candidates again.
func (s *Store) AdvancePush(ctx context.Context, sourceID uuid.UUID, next time.Time) error {
	if _, err := s.db.Pool.Exec(ctx, `UPDATE sync_sources SET push_watermark = greatest(push_watermark, $2) WHERE id = $1`, sourceID, next); err != nil {
		return fmt.Errorf("source: advance push watermark of %s: %w", sourceID, err)
	}
	return nil
}

func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// Unlinked returns active contacts with no link in the source (not even a deleted one), in id
// order after after, at most limit: the contacts a source with pushNew creates remotely.
func (s *Store) Unlinked(ctx context.Context, sourceID uuid.UUID, after uuid.UUID, limit int) ([]uuid.UUID, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT c.id FROM contacts c WHERE c.status = 'active' AND c.id > $2
		AND NOT EXISTS (SELECT 1 FROM sync_links l WHERE l.source_id = $1 AND l.contact_id = c.id)
		ORDER BY c.id LIMIT $3`, sourceID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("source: unlinked contacts: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("source: unlinked contacts: %w", err)
	}
	return ids, nil
}

// CopyLinksTx inserts links of records new to their source with COPY (a first pull's pages).
// A link that exists already fails the statement: the caller knows them to be new.
func CopyLinksTx(ctx context.Context, tx pgx.Tx, ls []*Link) error {
	if len(ls) == 0 {
		return nil
	}
	now := time.Now()
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"sync_links"},
		[]string{"source_id", "remote_id", "contact_id", "etag", "remote_updated", "content_hash", "payload", "raw", "decision", "synced_at"},
		pgx.CopyFromSlice(len(ls), func(i int) ([]any, error) {
			l := ls[i]
			at := l.SyncedAt
			if at.IsZero() {
				at = now
			}
			return []any{l.SourceID, l.RemoteID, l.ContactID, l.ETag, l.RemoteUpdated, l.ContentHash, l.Payload, l.Raw, l.Decision, at}, nil
		}))
	if err != nil {
		return fmt.Errorf("source: copy links: %w", err)
	}
	return nil
}
