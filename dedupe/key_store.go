package dedupe

import (
	"context"
	"fmt"

	"github.com/contactd/contactd/contact"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// RekeyContacts recomputes and writes the blocking keys of many contacts (an import batch's,
// read with their alternates) in one transaction, by COPY.
func (s *Store) RekeyContacts(ctx context.Context, cs []contact.MatchContact) error {
	ids := make([]uuid.UUID, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	var keys []string
	var owners []uuid.UUID
	for _, c := range cs {
		if c.Status != contact.StatusActive {
			continue
		}
		for _, k := range BlockingKeys(c.Contact, c.Alternates) {
			keys, owners = append(keys, k), append(owners, c.ID)
		}
	}
	return s.db.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM contact_keys WHERE contact_id = ANY($1)`, ids); err != nil {
			return fmt.Errorf("dedupe: rekey: %w", err)
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"contact_keys"}, []string{"key", "contact_id"},
			pgx.CopyFromSlice(len(keys), func(i int) ([]any, error) { return []any{keys[i], owners[i]}, nil }))
		if err != nil {
			return fmt.Errorf("dedupe: rekey: %w", err)
		}
		return nil
	})
}

// CandidatesByKeys returns the contacts holding any of the keys, leaving out keys held by more
// than maxBlock contacts (counted in capped).
func (s *Store) CandidatesByKeys(ctx context.Context, keys []string, maxBlock int) ([]uuid.UUID, int, error) {
	rows, err := s.db.Pool.Query(ctx, `
		SELECT m.contact_ids FROM unnest($1::text[]) AS k(key)
		CROSS JOIN LATERAL (SELECT array_agg(o.contact_id) AS contact_ids FROM (
			SELECT contact_id FROM contact_keys WHERE key = k.key LIMIT $2 + 1) o) m`, keys, maxBlock)
	if err != nil {
		return nil, 0, fmt.Errorf("dedupe: candidates: %w", err)
	}
	defer rows.Close()
	var ids []uuid.UUID
	capped := 0
	seen := map[uuid.UUID]bool{}
	for rows.Next() {
		var others []uuid.UUID
		if err := rows.Scan(&others); err != nil {
			return nil, 0, fmt.Errorf("dedupe: candidates: %w", err)
		}
		if len(others) > maxBlock {
			capped++
			continue
		}
		for _, o := range others {
			if !seen[o] {
				seen[o] = true
				ids = append(ids, o)
			}
		}
	}
	return ids, capped, rows.Err()
}

// KeyGroups returns, for every blocking key of the contacts, the contacts holding it, leaving
// out keys held by more than maxBlock contacts (counted in capped).
func (s *Store) KeyGroups(ctx context.Context, ids []uuid.UUID, maxBlock int) (map[string][]uuid.UUID, int, error) {
	rows, err := s.db.Pool.Query(ctx, `
		SELECT g.key, g.ids FROM (SELECT DISTINCT key FROM contact_keys WHERE contact_id = ANY($1)) k
		CROSS JOIN LATERAL (SELECT k.key, array_agg(o.contact_id) AS ids FROM (
			SELECT contact_id FROM contact_keys WHERE key = k.key LIMIT $2 + 1) o) g`, ids, maxBlock)
	if err != nil {
		return nil, 0, fmt.Errorf("dedupe: key groups: %w", err)
	}
	defer rows.Close()
	out := map[string][]uuid.UUID{}
	capped := 0
	for rows.Next() {
		var key string
		var members []uuid.UUID
		if err := rows.Scan(&key, &members); err != nil {
			return nil, 0, fmt.Errorf("dedupe: key groups: %w", err)
		}
		if len(members) > maxBlock {
			capped++
			continue
		}
		out[key] = members
	}
	return out, capped, rows.Err()
}

// CheckSet loads a contact and the active contacts sharing a blocking key with it, with their
// alternates, in two queries: what a duplicate check scores. Keys held by more than maxBlock
// other contacts are left out and counted in capped. self is nil when the contact is gone.
func (s *Store) CheckSet(ctx context.Context, id uuid.UUID, maxBlock int) (self *contact.MatchContact, cands []contact.MatchContact, capped int, err error) {
	rows, err := s.db.Pool.Query(ctx, `
		WITH g AS (
			SELECT m.ids FROM contact_keys k
			CROSS JOIN LATERAL (SELECT array_agg(o.contact_id) AS ids FROM (
				SELECT contact_id FROM contact_keys WHERE key = k.key AND contact_id <> $1 LIMIT $2 + 1) o) m
			WHERE k.contact_id = $1),
		ok AS (SELECT DISTINCT unnest(ids) AS id FROM g WHERE cardinality(ids) <= $2)
		SELECT `+contact.Columns("c")+`, (SELECT count(*) FROM g WHERE cardinality(ids) > $2)
		FROM contacts c WHERE c.id = ANY (ARRAY(SELECT $1::uuid UNION SELECT id FROM ok))
		ORDER BY c.id`, id, maxBlock)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("dedupe: check set of %s: %w", id, err)
	}
	var all []*contact.Contact
	for rows.Next() {
		var c contact.Contact
		var n int
		if err := rows.Scan(append(contact.ScanTargets(&c), &n)...); err != nil {
			rows.Close()
			return nil, nil, 0, fmt.Errorf("dedupe: check set of %s: %w", id, err)
		}
		capped = n
		all = append(all, &c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, 0, fmt.Errorf("dedupe: check set of %s: %w", id, err)
	}
	ids := make([]uuid.UUID, len(all))
	for i, c := range all {
		ids[i] = c.ID
	}
	alts, err := contact.AlternatesOf(ctx, s.db.Pool, ids)
	if err != nil {
		return nil, nil, 0, err
	}
	for _, c := range all {
		mc := contact.MatchContact{Contact: c, Alternates: alts[c.ID]}
		switch {
		case c.ID == id:
			self = &mc
		case c.Status == contact.StatusActive:
			cands = append(cands, mc)
		}
	}
	return self, cands, capped, nil
}
