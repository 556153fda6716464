package contact

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Alternate is an email or phone a contact carries besides its own (from merged contacts).
type Alternate struct {
	Kind       string // "email" or "phone"
	Value      string
	Normalized *string
}

// AlternatesOf returns the alternates of the contacts, by contact id.
func AlternatesOf(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, ids []uuid.UUID) (map[uuid.UUID][]Alternate, error) {
	out := map[uuid.UUID][]Alternate{}
	if len(ids) == 0 {
		return out, nil
	}
	// The values of email and phone custom fields count as alternates: the matcher blocks on
	// them and compares them as it does a merged contact's address.
	rows, err := q.Query(ctx, `SELECT contact_id, kind, value, normalized FROM contact_alternates
		WHERE contact_id = ANY($1)
		UNION ALL
		SELECT c.id, d.type, c.custom_fields ->> d.key, CASE WHEN d.type = 'email' THEN c.custom_fields ->> d.key END
		FROM contacts c JOIN custom_fields d ON d.type IN ('email', 'phone') AND c.custom_fields ? d.key
		WHERE c.id = ANY($1)
		ORDER BY 1, 2, 3`, ids)
	if err != nil {
		return nil, fmt.Errorf("contact: alternates: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		var a Alternate
		if err := rows.Scan(&id, &a.Kind, &a.Value, &a.Normalized); err != nil {
			return nil, fmt.Errorf("contact: alternates: %w", err)
		}
		out[id] = append(out[id], a)
	}
	return out, rows.Err()
}

// ReadTx reads the contacts as tx sees them.
func ReadTx(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) ([]*Contact, error) {
	rows, err := tx.Query(ctx, `SELECT `+contactColumns+` FROM contacts c WHERE c.id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("contact: read contacts: %w", err)
	}
	cs, err := pgx.CollectRows(rows, scanContactRow)
	if err != nil {
		return nil, fmt.Errorf("contact: read contacts: %w", err)
	}
	return cs, nil
}

// LockTx locks the contacts in id order and returns them by id (missing ones absent).
func LockTx(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) (map[uuid.UUID]*Contact, error) {
	rows, err := tx.Query(ctx, `SELECT `+contactColumns+` FROM contacts c WHERE c.id = ANY($1) ORDER BY c.id FOR UPDATE`, ids)
	if err != nil {
		return nil, fmt.Errorf("contact: lock contacts: %w", err)
	}
	got, err := pgx.CollectRows(rows, scanContactRow)
	if err != nil {
		return nil, fmt.Errorf("contact: lock contacts: %w", err)
	}
	return byID(got), nil
}
