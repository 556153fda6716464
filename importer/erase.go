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
// name that mentions them is replaced too. The rows are found through trigram indexes on their
// text (errorTextSQL), then contact.Personal.Mentions decides on each.
func (s *Store) ScrubTx(ctx context.Context, tx pgx.Tx, p *contact.Personal) error {
	pats := p.LikePatterns()
	if len(pats) == 0 {
		return nil
	}
	var imps []uuid.UUID
	var idx []int64
	var seqs []int32
	var fields []bool
	var (
		imp     uuid.UUID
		ri      int64
		seq     int32
		field   *string
		message string
	)
	err := contact.TextHitsTx(ctx, tx, "import_errors", errorTextSQL, "t.import_id, t.row_index, t.seq, t.field, t.message", pats,
		[]any{&imp, &ri, &seq, &field, &message}, func() error {
			text := message
			if field != nil {
				text = *field + " " + message
			}
			// The row is about them when it holds one of their values; its field goes too when it
			// holds one, a first name alone included.
			if p.Mentions(text) {
				scrubField := field != nil && p.MentionsInRow(*field)
				imps, idx, seqs, fields = append(imps, imp), append(idx, ri), append(seqs, seq), append(fields, scrubField)
			}
			return nil
		})
	if err != nil {
		return fmt.Errorf("importer: scrub error rows: %w", err)
	}
	b := &pgx.Batch{}
	if len(imps) > 0 {
		b.Queue(`UPDATE import_errors e SET message = $5, field = CASE WHEN u.f THEN $5 ELSE e.field END
			FROM unnest($1::uuid[], $2::bigint[], $3::int[], $4::boolean[]) AS u(i, r, s, f)
			WHERE e.import_id = u.i AND e.row_index = u.r AND e.seq = u.s`, imps, idx, seqs, fields, contact.ErasedMarker)
	}
	var named []uuid.UUID
	var id uuid.UUID
	var name string
	err = contact.TextHitsTx(ctx, tx, "imports", "t.file_name", "t.id, t.file_name", pats, []any{&id, &name}, func() error {
		if p.Mentions(name) {
			named = append(named, id)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("importer: scrub file names: %w", err)
	}
	if len(named) > 0 {
		b.Queue(`UPDATE imports SET file_name = $2 WHERE id = ANY($1)`, named, contact.ErasedMarker)
	}
	if b.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("importer: scrub error rows: %w", err)
	}
	return nil
}

// errorTextSQL is the text of an import error row (as t) that erasure looks in; its trigram
// index is import_errors_text_trgm_idx.
const errorTextSQL = `(coalesce(t.field, '') || ' ' || t.message)`

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
