package contact

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// MatchContact is a contact with its alternates, for matching.
type MatchContact struct {
	*Contact
	Alternates []Alternate
}

// MatchContacts returns the contacts (any status) with their alternates, in id order.
func (s *Store) MatchContacts(ctx context.Context, ids []uuid.UUID) ([]MatchContact, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT `+contactColumns+` FROM contacts c WHERE c.id = ANY($1) ORDER BY c.id`, ids)
	if err != nil {
		return nil, fmt.Errorf("contact: match contacts: %w", err)
	}
	contacts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Contact, error) { return ScanContact(r) })
	if err != nil {
		return nil, fmt.Errorf("contact: match contacts: %w", err)
	}
	alts, err := alternatesOf(ctx, s.db.Pool, ids)
	if err != nil {
		return nil, err
	}
	out := make([]MatchContact, len(contacts))
	for i, c := range contacts {
		out[i] = MatchContact{Contact: c, Alternates: alts[c.ID]}
	}
	return out, nil
}

// ScanActive streams every active contact (its matched fields, status and creation time) with
// its alternates to fn, in id order, in pages of pageSize.
func (s *Store) ScanActive(ctx context.Context, pageSize int, fn func([]MatchContact) error) error {
	// One streamed query with only the matched fields and each contact's alternates: paging
	// through the list query re-planned and sorted per page.
	rows, err := s.db.Pool.Query(ctx, `
		SELECT c.id, c.first_name, c.last_name, c.email, c.phone, c.title, c.company, c.status, c.created_at,
			coalesce(a.kinds, '{}'), coalesce(a.vals, '{}')
		FROM contacts c LEFT JOIN (
			SELECT contact_id, array_agg(kind ORDER BY kind, value) AS kinds, array_agg(value ORDER BY kind, value) AS vals
			FROM contact_alternates GROUP BY contact_id) a ON a.contact_id = c.id
		WHERE c.status = 'active' ORDER BY c.id`)
	if err != nil {
		return fmt.Errorf("contact: scan contacts: %w", err)
	}
	defer rows.Close()
	page := make([]MatchContact, 0, pageSize)
	for rows.Next() {
		c := &Contact{}
		var kinds, vals []string
		if err := rows.Scan(&c.ID, &c.FirstName, &c.LastName, &c.Email, &c.Phone, &c.Title, &c.Company, &c.Status,
			&c.CreatedAt, &kinds, &vals); err != nil {
			return fmt.Errorf("contact: scan contacts: %w", err)
		}
		mc := MatchContact{Contact: c}
		for i := range kinds {
			mc.Alternates = append(mc.Alternates, Alternate{Kind: kinds[i], Value: vals[i]})
		}
		page = append(page, mc)
		if len(page) == pageSize {
			if err := fn(page); err != nil {
				return err
			}
			page = make([]MatchContact, 0, pageSize)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("contact: scan contacts: %w", err)
	}
	if len(page) > 0 {
		return fn(page)
	}
	return nil
}

// RekeyContacts recomputes and writes the blocking keys of many contacts in one transaction
// (an import batch's contacts).
func (s *Store) RekeyContacts(ctx context.Context, ids []uuid.UUID) error {
	cs, err := s.MatchContacts(ctx, ids)
	if err != nil {
		return err
	}
	var keys []string
	var owners []uuid.UUID
	for _, c := range cs {
		if c.Status != StatusActive {
			continue
		}
		for _, k := range BlockingKeys(c.Contact, c.Alternates) {
			keys, owners = append(keys, k), append(owners, c.ID)
		}
	}
	return s.db.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM contact_keys WHERE contact_id = ANY($1)`, ids); err != nil {
			return fmt.Errorf("contact: rekey: %w", err)
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"contact_keys"}, []string{"key", "contact_id"},
			pgx.CopyFromSlice(len(keys), func(i int) ([]any, error) { return []any{keys[i], owners[i]}, nil }))
		if err != nil {
			return fmt.Errorf("contact: rekey: %w", err)
		}
		return nil
	})
}

// ContactIDsBetween returns the ids of the contacts in [from, to].
func (s *Store) ContactIDsBetween(ctx context.Context, from, to uuid.UUID) ([]uuid.UUID, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT id FROM contacts WHERE id BETWEEN $1 AND $2 ORDER BY id`, from, to)
	if err != nil {
		return nil, fmt.Errorf("contact: contacts between: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("contact: contacts between: %w", err)
	}
	return ids, nil
}

// CandidatesByKeys returns the contacts holding any of the keys, leaving out keys held by more
// than maxBlock contacts (counted in capped).
func (s *Store) CandidatesByKeys(ctx context.Context, keys []string, maxBlock int) ([]uuid.UUID, int, error) {
	rows, err := s.db.Pool.Query(ctx, `
		SELECT m.contact_ids FROM unnest($1::text[]) AS k(key)
		CROSS JOIN LATERAL (SELECT array_agg(o.contact_id) AS contact_ids FROM (
			SELECT contact_id FROM contact_keys WHERE key = k.key LIMIT $2 + 1) o) m`, keys, maxBlock)
	if err != nil {
		return nil, 0, fmt.Errorf("contact: candidates: %w", err)
	}
	defer rows.Close()
	var ids []uuid.UUID
	capped := 0
	seen := map[uuid.UUID]bool{}
	for rows.Next() {
		var others []uuid.UUID
		if err := rows.Scan(&others); err != nil {
			return nil, 0, fmt.Errorf("contact: candidates: %w", err)
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
		return nil, 0, fmt.Errorf("contact: key groups: %w", err)
	}
	defer rows.Close()
	out := map[string][]uuid.UUID{}
	capped := 0
	for rows.Next() {
		var key string
		var members []uuid.UUID
		if err := rows.Scan(&key, &members); err != nil {
			return nil, 0, fmt.Errorf("contact: key groups: %w", err)
		}
		if len(members) > maxBlock {
			capped++
			continue
		}
		out[key] = members
	}
	return out, capped, rows.Err()
}

// KeysOf returns the blocking keys of the contacts, by contact id.
func (s *Store) KeysOf(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID][]string, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT contact_id, key FROM contact_keys WHERE contact_id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("contact: keys: %w", err)
	}
	defer rows.Close()
	out := map[uuid.UUID][]string{}
	for rows.Next() {
		var id uuid.UUID
		var key string
		if err := rows.Scan(&id, &key); err != nil {
			return nil, fmt.Errorf("contact: keys: %w", err)
		}
		out[id] = append(out[id], key)
	}
	return out, rows.Err()
}

// CheckSet loads a contact and the active contacts sharing a blocking key with it, with their
// alternates, in two queries: what a duplicate check scores. Keys held by more than maxBlock
// other contacts are left out and counted in capped. self is nil when the contact is gone.
func (s *Store) CheckSet(ctx context.Context, id uuid.UUID, maxBlock int) (self *MatchContact, cands []MatchContact, capped int, err error) {
	rows, err := s.db.Pool.Query(ctx, `
		WITH g AS (
			SELECT m.ids FROM contact_keys k
			CROSS JOIN LATERAL (SELECT array_agg(o.contact_id) AS ids FROM (
				SELECT contact_id FROM contact_keys WHERE key = k.key AND contact_id <> $1 LIMIT $2 + 1) o) m
			WHERE k.contact_id = $1),
		ok AS (SELECT DISTINCT unnest(ids) AS id FROM g WHERE cardinality(ids) <= $2)
		SELECT `+contactColumns+`, (SELECT count(*) FROM g WHERE cardinality(ids) > $2)
		FROM contacts c WHERE c.id = ANY (ARRAY(SELECT $1::uuid UNION SELECT id FROM ok))
		ORDER BY c.id`, id, maxBlock)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("contact: check set of %s: %w", id, err)
	}
	var all []*Contact
	for rows.Next() {
		var c Contact
		var n int
		if err := rows.Scan(&c.ID, &c.FirstName, &c.LastName, &c.Email, &c.Phone, &c.Title, &c.Company,
			&c.Status, &c.Preferences, &c.Version, &c.Normalized.Email, &c.Normalized.Phone,
			&c.Normalized.PhoneExtension, &c.Normalized.PhoneValid, &c.Normalized.At, &c.CreatedAt, &c.UpdatedAt,
			&c.MergedInto, &n); err != nil {
			rows.Close()
			return nil, nil, 0, fmt.Errorf("contact: check set of %s: %w", id, err)
		}
		capped = n
		all = append(all, &c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, 0, fmt.Errorf("contact: check set of %s: %w", id, err)
	}
	ids := make([]uuid.UUID, len(all))
	for i, c := range all {
		ids[i] = c.ID
	}
	alts, err := alternatesOf(ctx, s.db.Pool, ids)
	if err != nil {
		return nil, nil, 0, err
	}
	for _, c := range all {
		mc := MatchContact{Contact: c, Alternates: alts[c.ID]}
		switch {
		case c.ID == id:
			self = &mc
		case c.Status == StatusActive:
			cands = append(cands, mc)
		}
	}
	return self, cands, capped, nil
}
