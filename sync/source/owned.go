package source

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/contactd/contactd/contact"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Links is the contact.Owned concern of sync links: a link is one contact's identity in a
// source, and follows its contact into a merge (both links of two merged contacts point at the
// survivor, the merged one remembering its contact in MergedFrom) and back out of an undo.
// Erasure forgets the links, leaving a tombstone for each live record of a source that pushes,
// so that its next run deletes the record remotely.
//
// A merge or an undo that touches contacts linked to a source with propagateMerges that pushes
// queues that source's run in its own transaction (RequestPushTx): the survivor's record is
// updated and the merged one deleted remotely (an undo: created again) right away, not at the
// next scheduled run.
func (s *Store) Links() contact.Owned {
	return links{store: s, moved: contact.MovedRows{
		Concern: "syncLinks", Table: "sync_links", Column: "contact_id", Key: []string{"source_id", "remote_id"},
	}}
}

type links struct {
	store *Store
	moved contact.MovedRows
}

func (l links) Name() string                              { return l.moved.Name() }
func (l links) SnapshotSQL(v contact.SnapshotVars) string { return l.moved.SnapshotSQL(v) }

// MergeTx moves the merged contacts' links to their survivors, remembering where they were.
func (l links) MergeTx(ctx context.Context, tx pgx.Tx, ms []*contact.MergeSet) ([]json.RawMessage, error) {
	var merged, survivors []uuid.UUID
	for _, s := range ms {
		for _, id := range s.Merged {
			merged, survivors = append(merged, id), append(survivors, s.SurvivorID)
		}
	}
	_, err := tx.Exec(ctx, `UPDATE sync_links r SET contact_id = u.s, merged_from = coalesce(r.merged_from, r.contact_id)
		FROM unnest($1::uuid[], $2::uuid[]) AS u(id, s) WHERE r.contact_id = u.id`, merged, survivors)
	if err != nil {
		return nil, fmt.Errorf("source: move links: %w", err)
	}
	if err := l.store.RequestPushTx(ctx, tx, survivors); err != nil {
		return nil, err
	}
	return make([]json.RawMessage, len(ms)), nil
}

// UndoTx moves the links back to the restored contacts. A record deleted remotely because of
// the merge stays deleted; the source's next run recreates it (DeletedByMerge on a link of an
// active contact that was not merged).
func (l links) UndoTx(ctx context.Context, tx pgx.Tx, u *contact.UndoSet) ([]string, error) {
	report, err := l.moved.UndoTx(ctx, tx, u)
	if err != nil {
		return nil, err
	}
	// A link back on the contact it had before its first merge is its own again (one merged
	// into a contact that was merged in turn stays remembered until that merge is undone too).
	if _, err := tx.Exec(ctx, `UPDATE sync_links SET merged_from = NULL WHERE contact_id = ANY($1) AND merged_from = contact_id`,
		u.Merged); err != nil {
		return nil, fmt.Errorf("source: restore links: %w", err)
	}
	if err := l.store.RequestPushTx(ctx, tx, u.All); err != nil {
		return nil, err
	}
	return report, nil
}

// RequestPushTx queues, in the caller's transaction, a run of every source with
// propagateMerges that pushes and has a link to one of the contacts (a merge's survivors, an
// undo's contacts), and counts the request on the source (push_requests): a run under way
// pushes again before it finishes (FinishPushRun), so the request is never left to a later
// scheduled run. Sources are locked in id order.
func (s *Store) RequestPushTx(ctx context.Context, tx pgx.Tx, contactIDs []uuid.UUID) error {
	if len(contactIDs) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `WITH due AS (
			SELECT s.id FROM sync_sources s WHERE s.propagate_merges AND s.direction IN ('push', 'both')
				AND EXISTS (SELECT 1 FROM sync_links l WHERE l.source_id = s.id AND l.contact_id = ANY($1))
			ORDER BY s.id FOR UPDATE OF s)
		UPDATE sync_sources s SET push_requests = s.push_requests + 1 FROM due WHERE s.id = due.id RETURNING s.id`, contactIDs)
	if err != nil {
		return fmt.Errorf("source: request pushes: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return fmt.Errorf("source: request pushes: %w", err)
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	for _, id := range ids {
		if _, _, err := s.startRunTx(ctx, tx, id, RunOptions{}); err != nil {
			return err
		}
	}
	return nil
}

// EraseTx forgets the contacts' links, leaving tombstones for the live records of sources that
// push (their next run deletes them remotely).
func (l links) EraseTx(ctx context.Context, tx pgx.Tx, contactIDs []uuid.UUID) error {
	_, err := tx.Exec(ctx, `INSERT INTO sync_tombstones (source_id, remote_id, etag)
		SELECT l.source_id, l.remote_id, l.etag FROM sync_links l JOIN sync_sources s ON s.id = l.source_id
		WHERE l.contact_id = ANY($1) AND NOT l.deleted AND s.direction IN ('push', 'both')
		ON CONFLICT DO NOTHING`, contactIDs)
	if err != nil {
		return fmt.Errorf("source: tombstones: %w", err)
	}
	return l.moved.EraseTx(ctx, tx, contactIDs)
}

// Tombstone is a remote record to delete whose contact was erased.
type Tombstone struct {
	RemoteID string
	ETag     *string
}

// TombstonesTx returns, locked, a source's tombstones, at most limit.
func TombstonesTx(ctx context.Context, tx pgx.Tx, sourceID uuid.UUID, limit int) ([]Tombstone, error) {
	rows, err := tx.Query(ctx, `SELECT remote_id, etag FROM sync_tombstones WHERE source_id = $1 ORDER BY remote_id
		LIMIT $2 FOR UPDATE SKIP LOCKED`, sourceID, limit)
	if err != nil {
		return nil, fmt.Errorf("source: tombstones: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Tombstone])
	if err != nil {
		return nil, fmt.Errorf("source: tombstones: %w", err)
	}
	return out, nil
}

// DropTombstonesTx forgets tombstones whose records are deleted.
func DropTombstonesTx(ctx context.Context, tx pgx.Tx, sourceID uuid.UUID, remoteIDs []string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM sync_tombstones WHERE source_id = $1 AND remote_id = ANY($2)`, sourceID, remoteIDs); err != nil {
		return fmt.Errorf("source: drop tombstones: %w", err)
	}
	return nil
}
