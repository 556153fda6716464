package tag

import (
	"context"
	"fmt"

	"github.com/contactd/contactd/contact"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// AddByContactTx gives each contact its own tags (cleaned, see Clean) it lacks, in one statement, and
// audits every contact it changes in a (importer.Tagger: an import's tags).
func (s *Store) AddByContactTx(ctx context.Context, tx pgx.Tx, a *contact.Audit, tags map[uuid.UUID][]string) error {
	var names []string
	seen := map[string]bool{}
	for _, list := range tags {
		for _, n := range list {
			if k := Key(n); !seen[k] {
				seen[k] = true
				names = append(names, n)
			}
		}
	}
	if len(names) == 0 {
		return nil
	}
	if _, err := ensureTx(ctx, tx, names); err != nil {
		return err
	}
	var contacts []uuid.UUID
	var keys []string
	for cid, list := range tags {
		for _, n := range list {
			contacts, keys = append(contacts, cid), append(keys, Key(n))
		}
	}
	ch := newChange()
	rows, err := tx.Query(ctx, `
		WITH ins AS (INSERT INTO contact_tags (contact_id, tag_id)
			SELECT DISTINCT u.c, t.id FROM unnest($1::uuid[], $2::text[]) AS u(c, k) JOIN tags t ON t.name_key = u.k
			ON CONFLICT DO NOTHING RETURNING contact_id, tag_id)
		SELECT ins.contact_id, t.name FROM ins JOIN tags t ON t.id = ins.tag_id`, contacts, keys)
	if err := collect(rows, err, ch.added); err != nil {
		return fmt.Errorf("tag: add imported tags: %w", err)
	}
	return s.audit(ctx, tx, a, "tags", ch)
}
