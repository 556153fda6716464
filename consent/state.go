package consent

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/contactd/contactd/contact"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// A contact's consent state is decide's verdict, over the contact and every contact merged into
// it, of each (channel, purpose) with events, kept on the contact's row (contact.SetConsentStatesTx)
// so that bulk reachability reads one row per contact. It is derived from the events and the
// merges, and recomputed, in the same transaction, by everything that changes either: recording
// events (insertTx), a merge (Events.MergeTx), an undo (Events.UndoTx) and erasure. Each of those
// first locks the contacts whose state it recomputes (lockRootsTx), so two of them never compute
// one contact's state from different events. A state not known (NULL, contacts with events from
// before the column) is computed from the events at each ask until RefreshStates fills it in.

// The bits of a (channel, purpose)'s state, as stored; a pair without events has no entry.
const (
	stateGranted    = 1 // the verdict is granted
	stateWithdrawn  = 2 // the verdict is withdrawn
	stateValidBasis = 4 // granted on a lawful basis the purpose accepts
)

// stateKey is a (channel, purpose)'s key in a consent state.
func stateKey(channel, purpose string) string { return channel + "/" + purpose }

// stateCode is a verdict as stored.
func stateCode(v verdict) int {
	code := 0
	switch v.status {
	case Granted:
		code = stateGranted
	case Withdrawn:
		code = stateWithdrawn
	}
	if v.validBasis {
		code |= stateValidBasis
	}
	return code
}

// verdictOf is the verdict a stored code gives.
func verdictOf(code int) verdict {
	var v verdict
	switch {
	case code&stateWithdrawn != 0:
		v.status = Withdrawn
	case code&stateGranted != 0:
		v.status = Granted
	}
	v.validBasis = code&stateValidBasis != 0
	return v
}

// lockRootsTx locks (FOR UPDATE, as merges lock contacts) the contacts at the end of the merges
// of ids and returns them, each once. Once a root is locked no merge or undo can change which
// contacts are folded into it, and no other writer of its events can recompute its state, until
// tx ends; a root merged away or a contact restored while it waited is followed again.
func lockRootsTx(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) ([]uuid.UUID, error) {
	var locked []uuid.UUID
	for range 10 {
		rows, err := tx.Query(ctx, `
			WITH RECURSIVE up (id, merged_into, depth) AS (
				SELECT c.id, c.merged_into, 0 FROM contacts c WHERE c.id = ANY($1)
				UNION ALL
				SELECT c.id, c.merged_into, up.depth + 1 FROM up JOIN contacts c ON c.id = up.merged_into WHERE up.depth < 1000)
			SELECT DISTINCT id FROM up WHERE merged_into IS NULL ORDER BY id`, ids)
		if err != nil {
			return nil, fmt.Errorf("consent: roots: %w", err)
		}
		roots, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			return nil, fmt.Errorf("consent: roots: %w", err)
		}
		var missing []uuid.UUID
		for _, r := range roots {
			if !slices.Contains(locked, r) {
				missing = append(missing, r)
			}
		}
		if len(missing) == 0 {
			return roots, nil
		}
		// A root merged away while this waited for its lock is no longer selected: the roots are
		// found again, and what was locked stays locked.
		rows, err = tx.Query(ctx, `SELECT id FROM contacts WHERE id = ANY($1) AND merged_into IS NULL ORDER BY id FOR UPDATE`, missing)
		if err != nil {
			return nil, fmt.Errorf("consent: lock roots: %w", err)
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			return nil, fmt.Errorf("consent: lock roots: %w", err)
		}
		locked = append(locked, got...)
	}
	return nil, fmt.Errorf("consent: roots of %v keep being merged", ids)
}

// refreshTx recomputes the consent state of roots (contacts not merged away, locked by the
// caller) from the latest event of each (channel, purpose) of every contact folded into each.
func refreshTx(ctx context.Context, tx pgx.Tx, roots []uuid.UUID) error {
	if len(roots) == 0 {
		return nil
	}
	// JIT compilation is off for the statement (and back as it was after it, in the same round
	// trip): the recursive fold's row estimates are far above what it reads, and compiling for
	// them took a second where reading takes milliseconds.
	var b pgx.Batch
	b.Queue(`SELECT set_config('consent.jit', current_setting('jit'), true), set_config('jit', 'off', true)`)
	b.Queue(refreshSQL, roots)
	b.Queue(`SELECT set_config('jit', current_setting('consent.jit'), true)`)
	br := tx.SendBatch(ctx, &b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return fmt.Errorf("consent: refresh states: %w", err)
	}
	rows, err := br.Query()
	if err != nil {
		return fmt.Errorf("consent: refresh states: %w", err)
	}
	type pair struct {
		root             uuid.UUID
		channel, purpose string
	}
	own := map[pair][]ownEvent{}
	bases := map[string][]string{}
	for rows.Next() {
		var k pair
		var e ownEvent
		var accepted []string
		if err := rows.Scan(&k.root, &e.Root, &e.Joined, &e.ID, &k.channel, &k.purpose, &e.Status, &e.Basis, &e.Captured,
			&e.Recorded, &accepted); err != nil {
			rows.Close()
			return fmt.Errorf("consent: refresh states: %w", err)
		}
		own[k] = append(own[k], e)
		bases[k.purpose] = accepted
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("consent: refresh states: %w", err)
	}
	if _, err := br.Exec(); err != nil {
		return fmt.Errorf("consent: refresh states: %w", err)
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("consent: refresh states: %w", err)
	}
	states := make(map[uuid.UUID]map[string]int, len(roots))
	for _, r := range roots {
		states[r] = map[string]int{}
	}
	for k, evs := range own {
		states[k.root][stateKey(k.channel, k.purpose)] = stateCode(decide(evs, bases[k.purpose]))
	}
	docs := make([]string, len(roots))
	for i, r := range roots {
		doc, err := json.Marshal(states[r])
		if err != nil {
			return err
		}
		docs[i] = string(doc)
	}
	return contact.SetConsentStatesTx(ctx, tx, roots, docs)
}

// refreshSQL gives, for each root of $1 (uuid[]), the latest event of each (channel, purpose)
// of every contact folded into it (the root itself included, see foldSQL for joined), with the
// lawful bases of the event's purpose. The fold reads each level's merged contacts by index
// (a hash join would scan contacts once per level).
const refreshSQL = `
	WITH RECURSIVE fold (root, id, joined) AS (
		SELECT r.id, r.id, '1970-01-01 00:00:00+00'::timestamptz FROM unnest($1::uuid[]) AS r (id)
		UNION ALL
		SELECT f.root, m.id, CASE WHEN f.id = f.root THEN coalesce(
				(SELECT max(g.created_at) FROM merges g
				 WHERE g.survivor_id = f.id AND g.merged_ids @> ARRAY[m.id] AND g.undone_at IS NULL),
				'9999-12-31 00:00:00+00'::timestamptz)
			ELSE f.joined END
		FROM fold f CROSS JOIN LATERAL (SELECT m.id FROM contacts m WHERE m.merged_into = f.id OFFSET 0) m)
	SELECT f.root, f.id = f.root, f.joined, e.id, e.channel, e.purpose, e.status, e.lawful_basis, e.captured_at,
		e.recorded_at, p.lawful_bases
	FROM fold f
	CROSS JOIN LATERAL (
		SELECT DISTINCT ON (e.channel, e.purpose) e.id, e.channel, e.purpose, e.status, e.lawful_basis, e.captured_at, e.recorded_at
		FROM consent_events e WHERE e.contact_id = f.id
		ORDER BY e.channel, e.purpose, e.captured_at DESC, e.id DESC) e
	JOIN purposes p ON p.name = e.purpose`

// refreshRootsTx locks the roots of ids (lockRootsTx) and recomputes their consent state.
func refreshRootsTx(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) error {
	roots, err := lockRootsTx(ctx, tx, ids)
	if err != nil {
		return err
	}
	return refreshTx(ctx, tx, roots)
}

// refreshBatch is how many contacts RefreshStates reads, and recomputes, per transaction.
const refreshBatch = 500

// RefreshStates computes the consent state of every contact whose state is not known (contacts
// with events from before states were kept), in transactions of refreshBatch contacts walked in
// id order; it returns how many it computed. Until then reachability computes their answers
// from the events, which is right but slower. It reads the whole contacts table once.
func (s *Store) RefreshStates(ctx context.Context) (int, error) {
	var after uuid.UUID
	total := 0
	for {
		var ids []uuid.UUID
		last := after
		err := s.db.RetryTx(ctx, func(tx pgx.Tx) error {
			// Walk the ids by the primary key, a batch of unknown ones at a time (or the end).
			rows, err := tx.Query(ctx, `SELECT id FROM contacts WHERE id > $1 AND consent_state IS NULL AND merged_into IS NULL
				ORDER BY id LIMIT $2`, after, refreshBatch)
			if err != nil {
				return fmt.Errorf("consent: refresh states: %w", err)
			}
			if ids, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID]); err != nil {
				return fmt.Errorf("consent: refresh states: %w", err)
			}
			if len(ids) == 0 {
				return nil
			}
			last = ids[len(ids)-1]
			return refreshRootsTx(ctx, tx, ids)
		})
		if err != nil {
			return total, err
		}
		total += len(ids)
		if len(ids) < refreshBatch {
			return total, nil
		}
		after = last
	}
}
