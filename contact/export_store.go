package contact

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ExportContact is a contact's exported fields (not its preferences, version or relationships),
// its tags and custom values, with every external reference it has, as "source:id".
type ExportContact struct {
	Contact
	ExternalIDs []string
	// Type is the contact's type, explicit or derived (TypeSQL).
	Type ContactType
}

// ExportContacts streams every contact the filter selects in id
// order to fn, from one query whose rows are read as they arrive: memory stays constant
// whatever the count.
func (s *Store) ExportContacts(ctx context.Context, f Filter, fn func(*ExportContact) error) error {
	where, args := f.Where(nil)
	// A filtered export probes each selected contact's references; a whole-table export
	// aggregates all references once and hash-joins them, which is faster per row.
	refs := `LEFT JOIN LATERAL (
			SELECT array_agg(r.source || ':' || r.external_id ORDER BY r.created_at, r.source, r.external_id) AS refs
			FROM external_refs r WHERE r.contact_id = c.id) x ON true`
	if f.selectsAll() {
		refs = `LEFT JOIN (
			SELECT r.contact_id, array_agg(r.source || ':' || r.external_id ORDER BY r.created_at, r.source, r.external_id) AS refs
			FROM external_refs r GROUP BY r.contact_id) x ON x.contact_id = c.id`
	}
	// Only the exported columns: decoding preferences for every row would cost a third of
	// the time.
	return s.db.InTx(ctx, func(tx pgx.Tx) error {
		if err := f.PrepareTx(ctx, tx); err != nil {
			return err
		}
		return exportRows(ctx, tx, refs, where, args, fn)
	})
}

// exportRows streams the selected rows to fn.
func exportRows(ctx context.Context, tx pgx.Tx, refs, where string, args []any, fn func(*ExportContact) error) error {
	rows, err := tx.Query(ctx, `SELECT c.id, `+fieldColumns("c")+`,
		c.status, c.email_normalized, c.phone_e164, c.phone_extension, c.phone_valid, c.created_at, c.updated_at,
		coalesce(x.refs, '{}'), c.custom_fields,
		coalesce((SELECT array_agg(t.name ORDER BY t.name_key) FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id
			WHERE ct.contact_id = c.id), '{}'), `+TypeSQL+`
		FROM contacts c `+refs+`
		WHERE `+where+` ORDER BY c.id`, args...)
	if err != nil {
		return fmt.Errorf("contact: export: %w", err)
	}
	defer rows.Close()
	var ec ExportContact
	for rows.Next() {
		ec = ExportContact{}
		c := &ec.Contact
		targets := append([]any{&c.ID}, fieldTargets(&c.Values)...)
		if err := rows.Scan(append(targets, &c.Status, &c.Normalized.Email, &c.Normalized.Phone, &c.Normalized.PhoneExtension, &c.Normalized.PhoneValid,
			&c.CreatedAt, &c.UpdatedAt, &ec.ExternalIDs, &c.Custom, &c.Tags, &ec.Type)...); err != nil {
			return fmt.Errorf("contact: export: %w", err)
		}
		if err := fn(&ec); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("contact: export: %w", err)
	}
	return nil
}
