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
	contacts, err := pgx.CollectRows(rows, scanContactRow)
	if err != nil {
		return nil, fmt.Errorf("contact: match contacts: %w", err)
	}
	alts, err := AlternatesOf(ctx, s.db.Pool, ids)
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

// MergedMembers returns, for each of ids, the contacts merged into it, directly or through a
// contact merged into it, with the values they had when merged: the people a duplicate check
// must not chain a clearly different contact to.
func (s *Store) MergedMembers(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID][]*Contact, error) {
	rows, err := s.db.Pool.Query(ctx, `
		WITH RECURSIVE m (id, root) AS (
			SELECT id, merged_into FROM contacts WHERE merged_into = ANY($1)
			UNION
			SELECT c.id, m.root FROM contacts c JOIN m ON c.merged_into = m.id)
		SELECT m.root, `+contactColumns+` FROM m JOIN contacts c ON c.id = m.id ORDER BY m.root, c.id`, ids)
	if err != nil {
		return nil, fmt.Errorf("contact: merged members: %w", err)
	}
	defer rows.Close()
	out := map[uuid.UUID][]*Contact{}
	for rows.Next() {
		var root uuid.UUID
		c := &Contact{}
		if err := rows.Scan(append([]any{&root}, ScanTargets(c)...)...); err != nil {
			return nil, fmt.Errorf("contact: merged members: %w", err)
		}
		out[root] = append(out[root], c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("contact: merged members: %w", err)
	}
	return out, nil
}

// CountActive returns how many contacts are active.
func (s *Store) CountActive(ctx context.Context) (int, error) {
	var n int
	if err := s.db.Pool.QueryRow(ctx, `SELECT count(*) FROM contacts WHERE status = 'active'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("contact: count active contacts: %w", err)
	}
	return n, nil
}
