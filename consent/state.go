package consent

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
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

// lockRootsTx locks (FOR UPDATE, as merges lock contacts) the contacts ids and those at the end
// of their merges, and returns the latter, each once. Once a root is locked no merge or undo can
// change which contacts are folded into it, and no other writer of its events can recompute its
// state, until tx ends; a root merged away or a contact restored while this waited is followed
// again. The contacts are locked in id order in one statement, the order merges, undos and
// erasure lock theirs in: a withdrawal on a merged contact also takes the key share its event's
// foreign key needs, so locking its survivor alone first could deadlock with an undo.
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
		for _, id := range append(slices.Clone(ids), roots...) {
			if !slices.Contains(locked, id) && !slices.Contains(missing, id) {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 {
			return roots, nil
		}
		// What was locked stays locked; the roots are found again after the wait, as a merge or
		// an undo that held one may have changed them.
		if _, err := tx.Exec(ctx, `SELECT FROM contacts WHERE id = ANY($1) ORDER BY id FOR UPDATE`, missing); err != nil {
			return nil, fmt.Errorf("consent: lock roots: %w", err)
		}
		locked = append(locked, missing...)
	}
	return nil, fmt.Errorf("consent: roots of %v keep being merged", ids)
}

// refreshTx recomputes the consent state of roots (contacts not merged away, locked by the
// caller) from the latest event of each (channel, purpose) of every contact folded into each.
func refreshTx(ctx context.Context, tx pgx.Tx, roots []uuid.UUID) error {
	if len(roots) == 0 {
		return nil
	}
	states, err := computeStatesTx(ctx, tx, roots)
	if err != nil {
		return err
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

// computeStatesTx computes, in tx, the consent state of each of roots (contacts not merged away)
// from the latest event of each (channel, purpose) of every contact folded into it.
func computeStatesTx(ctx context.Context, tx pgx.Tx, roots []uuid.UUID) (map[uuid.UUID]map[string]int, error) {
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
		return nil, fmt.Errorf("consent: refresh states: %w", err)
	}
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("consent: refresh states: %w", err)
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
			return nil, fmt.Errorf("consent: refresh states: %w", err)
		}
		own[k] = append(own[k], e)
		bases[k.purpose] = accepted
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("consent: refresh states: %w", err)
	}
	if _, err := br.Exec(); err != nil {
		return nil, fmt.Errorf("consent: refresh states: %w", err)
	}
	if err := br.Close(); err != nil {
		return nil, fmt.Errorf("consent: refresh states: %w", err)
	}
	states := make(map[uuid.UUID]map[string]int, len(roots))
	for _, r := range roots {
		states[r] = map[string]int{}
	}
	for k, evs := range own {
		states[k.root][stateKey(k.channel, k.purpose)] = stateCode(decide(evs, bases[k.purpose]))
	}
	return states, nil
}

// refreshSQL gives, for each root of $1 (uuid[]), the latest event of each (channel, purpose)
// of every contact folded into it (see foldSQL), with the lawful bases of the event's purpose.
const refreshSQL = foldSQL + `
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

// refreshBatch is how many contacts RefreshStates checks at a time.
const refreshBatch = 500

// RefreshStates checks the consent state of every contact that may have one (not merged away,
// with events or contacts merged into it, or a state not known or not empty) against its events,
// walking the contacts in id order a batch at a time, and recomputes, under the contacts' locks,
// those not known or that differ; it returns how many it wrote. States are not known for
// contacts with events from before they were kept; they differ only if something wrote events
// or merges without them, as a process of an older version does during a rolling upgrade.
// Until then reachability answers those contacts from their events (not known) or from the
// state (differing). It reads the contacts table once and writes only what it corrects.
func (s *Store) RefreshStates(ctx context.Context) (int, error) {
	var after uuid.UUID
	total := 0
	for {
		var stale []uuid.UUID
		n := 0
		err := pgx.BeginTxFunc(ctx, s.db.Pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `SELECT c.id, c.consent_state FROM contacts c
				WHERE c.id > $1 AND c.merged_into IS NULL
				AND (c.consent_state IS NULL OR c.consent_state <> '{}'::jsonb
					OR EXISTS (SELECT FROM consent_events e WHERE e.contact_id = c.id)
					OR EXISTS (SELECT FROM contacts m WHERE m.merged_into = c.id))
				ORDER BY c.id LIMIT $2`, after, refreshBatch)
			if err != nil {
				return fmt.Errorf("consent: refresh states: %w", err)
			}
			var ids []uuid.UUID
			stored := map[uuid.UUID]map[string]int{}
			for rows.Next() {
				var id uuid.UUID
				var st map[string]int
				if err := rows.Scan(&id, &st); err != nil {
					rows.Close()
					return fmt.Errorf("consent: refresh states: %w", err)
				}
				ids = append(ids, id)
				if st != nil {
					stored[id] = st
				}
			}
			if err := rows.Err(); err != nil {
				return fmt.Errorf("consent: refresh states: %w", err)
			}
			if n = len(ids); n == 0 {
				return nil
			}
			after = ids[n-1]
			fresh, err := computeStatesTx(ctx, tx, ids)
			if err != nil {
				return err
			}
			for _, id := range ids {
				if st, ok := stored[id]; !ok || !maps.Equal(st, fresh[id]) {
					stale = append(stale, id)
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		if len(stale) > 0 {
			// Recomputed under the locks: what the check saw may have changed since.
			if err := s.db.RetryTx(ctx, func(tx pgx.Tx) error { return refreshRootsTx(ctx, tx, stale) }); err != nil {
				return total, err
			}
			total += len(stale)
		}
		if n < refreshBatch {
			return total, nil
		}
	}
}
