package importer

import (
	"context"
	"fmt"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ScrubTx replaces the message and field of every import error row that mentions the people
// (a row's message can quote what it refused: their email, phone or name) by
// contact.ErasedMarker: the fact that the line failed stays, its content goes. An import file
// name that mentions them is replaced too. It scans every error row.
func (s *Store) ScrubTx(ctx context.Context, tx pgx.Tx, p *contact.Personal) error {
	pats := p.Patterns()
	b := &pgx.Batch{}
	b.Queue(`UPDATE import_errors SET message = $2, field = CASE WHEN field ~* ANY($1) THEN $2 ELSE field END
		WHERE message ~* ANY($1) OR field ~* ANY($1)`, pats, contact.ErasedMarker)
	b.Queue(`UPDATE imports SET file_name = $2 WHERE file_name ~* ANY($1)`, pats, contact.ErasedMarker)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("importer: scrub error rows: %w", err)
	}
	return nil
}

// Ref is one external reference of a contact: its id in a source, and the import that
// recorded it.
type Ref struct {
	ContactID  uuid.UUID
	Source     string
	ExternalID string
	ImportID   *uuid.UUID
	CreatedAt  time.Time
}

// RefsOf returns the contacts' external references, by contact, source and id.
func (s *Store) RefsOf(ctx context.Context, contactIDs []uuid.UUID) ([]Ref, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT contact_id, source, external_id, import_id, created_at FROM external_refs
		WHERE contact_id = ANY($1) ORDER BY contact_id, source, external_id`, contactIDs)
	if err != nil {
		return nil, fmt.Errorf("importer: refs of contacts: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Ref])
	if err != nil {
		return nil, fmt.Errorf("importer: refs of contacts: %w", err)
	}
	return out, nil
}
