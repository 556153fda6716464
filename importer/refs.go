package importer

import (
	"context"
	"fmt"

	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// LockLookupTx takes a transaction-scoped advisory lock on each (source, externalId) of ids in
// sorted order (so that writers sharing ids wait for each other rather than deadlock) and
// returns the contacts the known ones refer to. It is how a batch write matches its items
// (contact.Refs).
func (s *Store) LockLookupTx(ctx context.Context, tx pgx.Tx, source string, ids []string) (map[string]uuid.UUID, error) {
	known := make(map[string]uuid.UUID, len(ids))
	if len(ids) == 0 {
		return known, nil
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock(hashtextextended($1 || chr(31) || k, 7002)) FROM unnest($2::text[]) AS k ORDER BY k`, source, ids)
	b.Queue(`SELECT external_id, contact_id FROM external_refs WHERE source = $1 AND external_id = ANY($2)`, source, ids).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var ext string
				var id uuid.UUID
				if err := rows.Scan(&ext, &id); err != nil {
					return err
				}
				known[ext] = id
			}
			return rows.Err()
		})
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("importer: look up external ids: %w", err)
	}
	return known, nil
}

// AddTx records that (source, externalID) refers to contactID. It fails with KindConflict when
// the reference exists already (an import recorded it since it was looked up).
func (s *Store) AddTx(ctx context.Context, tx pgx.Tx, source, externalID string, contactID uuid.UUID) error {
	tag, err := tx.Exec(ctx, `INSERT INTO external_refs (source, external_id, contact_id) VALUES ($1, $2, $3)
		ON CONFLICT (source, external_id) DO NOTHING`, source, externalID, contactID)
	if err != nil {
		return fmt.Errorf("importer: add external id: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return db.Conflict("externalId %q of source %q already refers to a contact", externalID, source)
	}
	return nil
}
