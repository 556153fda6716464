package contact

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Person is everything package contact holds about one person, for an access request (Art. 15)
// or a portable copy (Art. 20): the contact at the end of the asked one's chain of merges first,
// then every contact merged into it, with their extra values, alternates and audit trail.
type Person struct {
	Contacts   []*Contact
	Extra      map[uuid.UUID]json.RawMessage
	Alternates []StoredAlternate
	Audit      []AuditEntry
}

// IDs returns the person's contact ids, the survivor first.
func (p *Person) IDs() []uuid.UUID {
	out := make([]uuid.UUID, len(p.Contacts))
	for i, c := range p.Contacts {
		out[i] = c.ID
	}
	return out
}

// maxPersonAudit bounds the audit entries of one person's export.
const maxPersonAudit = 100_000

// Person reads the person the contact belongs to. An erased person is KindGone.
func (s *Store) Person(ctx context.Context, id uuid.UUID) (*Person, error) {
	root, err := s.GetContact(ctx, id)
	if err != nil {
		return nil, err
	}
	if root.MergedInto != nil {
		if root, err = s.GetContact(ctx, *root.MergedInto); err != nil {
			return nil, err
		}
	}
	rows, err := s.db.Pool.Query(ctx, `
		WITH RECURSIVE down AS (
			SELECT $1::uuid AS id UNION SELECT c.id FROM contacts c JOIN down d ON c.merged_into = d.id)
		SELECT `+contactColumns+`, c.extra FROM contacts c WHERE c.id IN (SELECT id FROM down)
		ORDER BY c.id = $1 DESC, c.id`, root.ID)
	if err != nil {
		return nil, fmt.Errorf("contact: person %s: %w", id, err)
	}
	p := &Person{Extra: map[uuid.UUID]json.RawMessage{}}
	for rows.Next() {
		var extra json.RawMessage
		c, err := ScanContact(extraScanner{rows, []any{&extra}})
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("contact: person %s: %w", id, err)
		}
		if c.ID == root.ID {
			c = root
		}
		p.Contacts = append(p.Contacts, c)
		if len(extra) > 0 {
			p.Extra[c.ID] = extra
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("contact: person %s: %w", id, err)
	}
	err = s.db.InTx(ctx, func(tx pgx.Tx) error {
		p.Alternates, err = ReadAlternatesTx(ctx, tx, p.IDs())
		return err
	})
	if err != nil {
		return nil, err
	}
	for after := int64(0); len(p.Audit) < maxPersonAudit; {
		page, err := s.AuditTrail(ctx, root.ID, after, 1000)
		if err != nil {
			return nil, err
		}
		p.Audit = append(p.Audit, page...)
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].ID
	}
	return p, nil
}
