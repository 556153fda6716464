package merge

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Store merges contacts and undoes merges (table merges). It is safe for concurrent use.
type Store struct {
	db       *db.DB
	contacts *contact.Store
	// owned are the concerns whose contact-owned rows every merge and undo carries along, in
	// the order they run.
	owned []contact.Owned
	// snapshotSQL reads the snapshots of a chunk's merges (see readSnapshots).
	snapshotSQL string
}

// NewStore returns a Store over d that carries the rows of the owned concerns through every
// merge and undo (internal/app passes every concern of the process).
func NewStore(d *db.DB, contacts *contact.Store, owned ...contact.Owned) *Store {
	names := map[string]bool{}
	for _, o := range owned {
		if names[o.Name()] || reservedSnapshotKeys[o.Name()] {
			panic("merge: two concerns named " + o.Name())
		}
		names[o.Name()] = true
	}
	s := &Store{db: d, contacts: contacts, owned: owned}
	s.snapshotSQL = s.buildSnapshotSQL()
	return s
}

// MergeContacts merges the request's contacts into one survivor in one transaction: the
// survivor takes the chosen field values and every email and phone of the others as alternates;
// every registered concern's rows (relationships, external references, review items, ...) are
// moved or kept by the concern's rule; the others get status merged and point at it. Audit
// history stays where it was written, and the survivor's trail (contact.Store.AuditTrail) takes
// in the history of every contact merged into it. Every contact involved is locked in id order
// first, so concurrent merges over the same contacts serialize. A snapshot of the contacts and
// of every concern's rows as they were is stored with the merge, for UndoMerge. It returns the
// merge and the survivor as it now is.
func (s *Store) MergeContacts(ctx context.Context, req Request) (*Merge, *contact.Contact, error) {
	m, err := s.Merge(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	survivor, err := s.contacts.GetContact(ctx, m.SurvivorID)
	if err != nil {
		return nil, nil, err
	}
	return m, survivor, nil
}

// Merge makes the merge MergeContacts makes and returns it without reading the survivor back:
// for the duplicate checks, which merge on the way to the next contact. The survivor gets a
// duplicate check of its own (the merged person may match contacts no part matched alone).
func (s *Store) Merge(ctx context.Context, req Request) (*Merge, error) {
	var m *Merge
	err := s.db.RetryTx(ctx, func(tx pgx.Tx) error {
		var err error
		m, err = s.MergeTx(ctx, tx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// MergeTx makes the merge Merge makes inside the caller's transaction tx, so that the caller
// can lock and change rows of its own in the same transaction (answering a review item locks
// the item first). It returns the merge, or the request's error (a domain error: invalid
// request, a contact missing, merged or archived) with nothing written. On any error the
// caller must roll tx back; tx may be retried as a whole on a serialization failure or a
// deadlock (db.RetryTx).
func (s *Store) MergeTx(ctx context.Context, tx pgx.Tx, req Request) (*Merge, error) {
	ids, err := req.validate()
	if err != nil {
		return nil, err
	}
	ms, failed, err := s.mergeChunkTx(ctx, tx, []Request{req}, []int{0}, [][]uuid.UUID{ids}, true)
	if err != nil {
		return nil, err
	}
	if err := failed[0]; err != nil {
		return nil, err
	}
	return ms[0], nil
}

// chunkSize is how many clusters MergeClusters merges in one transaction.
const chunkSize = 500

// MergeClusters merges each request (each a cluster of distinct contacts; clusters must be
// disjoint) in chunks of one transaction each, set-based. It returns the merges made, and for
// each request that could not be merged (a contact no longer active, already merged, etc.) its
// error — a bad cluster never fails the others.
//
// Each merge is the one MergeContacts would make for its request, merging the requests one after
// another in order, but for one thing: it enqueues no duplicate check of the survivors. Its
// callers (a full scan, an import batch's check) have weighed every pair already or re-check
// what they could not, and a million-contact scan would leave ~200,000 checks behind. (A chunk
// whose transaction fails is merged one by one, each with its check.) A request that shares a
// contact with an earlier one starts a new chunk, so that it sees the earlier merge as
// MergeContacts would.
func (s *Store) MergeClusters(ctx context.Context, reqs []Request) (merged []*Merge, failed map[int]error, err error) {
	failed = map[int]error{}
	var (
		chunk   []int
		chunkID [][]uuid.UUID
		seen    = map[uuid.UUID]bool{}
	)
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		ms, err := s.mergeChunk(ctx, reqs, chunk, chunkID, failed)
		merged = append(merged, ms...)
		chunk, chunkID = chunk[:0], chunkID[:0]
		clear(seen)
		return err
	}
	for i, req := range reqs {
		ids, err := req.validate()
		if err != nil {
			failed[i] = err
			continue
		}
		if len(chunk) >= chunkSize || slices.ContainsFunc(ids, func(id uuid.UUID) bool { return seen[id] }) {
			if err := flush(); err != nil {
				return merged, failed, err
			}
		}
		chunk, chunkID = append(chunk, i), append(chunkID, ids)
		for _, id := range ids {
			seen[id] = true
		}
	}
	if err := flush(); err != nil {
		return merged, failed, err
	}
	return merged, failed, nil
}

// mergeChunk merges the requests reqs[idx[k]] (their distinct contacts ids[k]) in one
// transaction, recording the requests that cannot be merged in failed. When the transaction
// fails for a reason no check foresaw, it merges them one by one, so that one bad cluster
// fails alone.
func (s *Store) mergeChunk(ctx context.Context, reqs []Request, idx []int, ids [][]uuid.UUID, failed map[int]error) ([]*Merge, error) {
	var ms []*Merge
	var bad map[int]error
	err := s.db.RetryTx(ctx, func(tx pgx.Tx) error {
		var err error
		ms, bad, err = s.mergeChunkTx(ctx, tx, reqs, idx, ids, false)
		return err
	})
	if err == nil {
		for k, e := range bad {
			failed[idx[k]] = e
		}
		return ms, nil
	}
	if ctx.Err() != nil {
		return nil, err
	}
	ms = ms[:0]
	for k, i := range idx {
		var one []*Merge
		err := s.db.RetryTx(ctx, func(tx pgx.Tx) error {
			var err error
			one, bad, err = s.mergeChunkTx(ctx, tx, reqs, []int{i}, ids[k:k+1], true)
			return err
		})
		if err == nil {
			err = bad[0]
		}
		if err != nil {
			if ctx.Err() != nil {
				return ms, err
			}
			failed[i] = err
			continue
		}
		ms = append(ms, one...)
	}
	return ms, nil
}

const mergeColumns = `id, survivor_id, merged_ids, actor, model_version, score, created_at, undone_at, undone_by,
	coalesce(undo_report, '[]'::jsonb)`

func scanMerge(row pgx.Row) (*Merge, error) {
	var m Merge
	err := row.Scan(&m.ID, &m.SurvivorID, &m.MergedIDs, &m.Actor, &m.ModelVersion, &m.Score, &m.CreatedAt,
		&m.UndoneAt, &m.UndoneBy, &m.UndoReport)
	if err != nil {
		return nil, err
	}
	if m.UndoReport == nil {
		m.UndoReport = []string{}
	}
	return &m, nil
}

// GetMerge returns a merge.
func (s *Store) GetMerge(ctx context.Context, id uuid.UUID) (*Merge, error) {
	m, err := scanMerge(s.db.Pool.QueryRow(ctx, `SELECT `+mergeColumns+` FROM merges WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, db.NotFound("merge %s not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("merge: get %s: %w", id, err)
	}
	return m, nil
}

// ListMerges returns a page of merges, newest first, after the merge before (the cursor: the
// last id of the previous page), and the cursor of the next page, nil on the last page.
func (s *Store) ListMerges(ctx context.Context, before *uuid.UUID, limit int) ([]*Merge, *uuid.UUID, error) {
	if err := db.CheckLimit(limit); err != nil {
		return nil, nil, err
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT `+mergeColumns+` FROM merges
		WHERE $1::uuid IS NULL OR id < $1 ORDER BY id DESC LIMIT $2`, before, limit+1)
	if err != nil {
		return nil, nil, fmt.Errorf("merge: list: %w", err)
	}
	merges, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Merge, error) { return scanMerge(r) })
	if err != nil {
		return nil, nil, fmt.Errorf("merge: list: %w", err)
	}
	merges, next := db.Page(merges, limit, func(m *Merge) uuid.UUID { return m.ID })
	return merges, next, nil
}
