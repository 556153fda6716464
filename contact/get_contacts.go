package contact

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// GetContacts returns the contacts, each as GetContact returns it (its current relationships;
// for a merged one, MergedInto at the end of its chain of merges), in id order, in two
// queries however many there are: for pages that show many contacts at once. Ids of no
// contact are left out.
func (s *Store) GetContacts(ctx context.Context, ids []uuid.UUID) ([]*Contact, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := s.db.Pool.Query(ctx, `
		WITH RECURSIVE chain (start, id, merged_into, depth) AS (
			SELECT id, id, merged_into, 0 FROM contacts WHERE id = ANY($1) AND merged_into IS NOT NULL
			UNION ALL
			SELECT chain.start, n.id, n.merged_into, chain.depth + 1 FROM contacts n JOIN chain ON n.id = chain.merged_into
			WHERE chain.depth < 1000),
		ends AS (SELECT DISTINCT ON (start) start, id FROM chain ORDER BY start, depth DESC)
		SELECT `+contactColumns+`, ends.id FROM contacts c LEFT JOIN ends ON ends.start = c.id
		WHERE c.id = ANY($1) ORDER BY c.id`, ids)
	if err != nil {
		return nil, fmt.Errorf("contact: get contacts: %w", err)
	}
	contacts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Contact, error) {
		var c Contact
		var end *uuid.UUID
		if err := r.Scan(append(ScanTargets(&c), &end)...); err != nil {
			return nil, err
		}
		if c.MergedInto != nil {
			c.MergedInto = end
		}
		return &c, nil
	})
	if err != nil {
		return nil, fmt.Errorf("contact: get contacts: %w", err)
	}
	found := make([]uuid.UUID, len(contacts))
	for i, c := range contacts {
		found[i] = c.ID
	}
	rels, err := s.relationshipsOf(ctx, found)
	if err != nil {
		return nil, err
	}
	for _, c := range contacts {
		c.Relationships = rels[c.ID]
	}
	return contacts, nil
}
