package contact

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/matcher"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// StoredAlternate is a row of contact_alternates as a merge reads it: an alternate with its
// contact and the contact it came from.
type StoredAlternate struct {
	ContactID  uuid.UUID
	Kind       string
	Value      string
	Normalized *string
	From       *uuid.UUID
}

// ReadAlternatesTx reads the alternates of the contacts, ordered by contact, kind and value.
func ReadAlternatesTx(ctx context.Context, tx pgx.Tx, contactIDs []uuid.UUID) ([]StoredAlternate, error) {
	rows, err := tx.Query(ctx, `SELECT contact_id, kind, value, normalized, from_contact_id FROM contact_alternates
		WHERE contact_id = ANY($1) ORDER BY contact_id, kind, value`, contactIDs)
	if err != nil {
		return nil, fmt.Errorf("contact: read alternates: %w", err)
	}
	alts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[StoredAlternate])
	if err != nil {
		return nil, fmt.Errorf("contact: read alternates: %w", err)
	}
	return alts, nil
}

// Queue queues the writes that move the alternates: the merged contacts' go, the rows are
// attached to their survivors.
func (r *AlternateRows) Queue(b *pgx.Batch, merged []uuid.UUID) {
	b.Queue(`DELETE FROM contact_alternates WHERE contact_id = ANY($1)`, merged)
	if len(r.values) > 0 {
		b.Queue(`INSERT INTO contact_alternates (contact_id, kind, value, normalized, from_contact_id, merge_id)
			SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::uuid[], $6::uuid[])
			ON CONFLICT DO NOTHING`, r.contactIDs, r.kinds, r.values, r.normalized, r.from, r.mergeIDs)
	}
}

// AlternateRows are the alternates merges attach to their survivors, as columns.
type AlternateRows struct {
	contactIDs, mergeIDs, from []uuid.UUID
	kinds, values              []string
	normalized                 []*string
}

// Add appends the alternates one merge attaches to its survivor: every email and phone of the
// merge's contacts the survivor does not carry itself, then the merged contacts' own alternates
// (alts, ordered by contact, kind and value), each value once. It returns what it attached.
func (r *AlternateRows) Add(mergeID uuid.UUID, survivor *Contact, contacts map[uuid.UUID]*Contact, alts []StoredAlternate) []Alternate {
	start := len(r.values)
	seen := map[string]bool{}
	add := func(kind, value string, norm *string, fromID uuid.UUID) {
		own := survivor.Email
		if kind == "phone" {
			own = survivor.Phone
		}
		if value == "" || (own != nil && *own == value) || seen[kind+"\x00"+value] {
			return
		}
		seen[kind+"\x00"+value] = true
		r.contactIDs, r.mergeIDs = append(r.contactIDs, survivor.ID), append(r.mergeIDs, mergeID)
		r.kinds, r.values, r.normalized, r.from = append(r.kinds, kind), append(r.values, value), append(r.normalized, norm), append(r.from, fromID)
	}
	ids := make([]uuid.UUID, 0, len(contacts))
	for id := range contacts {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, db.CompareUUID)
	for _, id := range ids {
		c := contacts[id]
		if c.Email != nil {
			n := c.Normalized.Email
			if n == nil {
				n = EmailKey(c.Email)
			}
			add("email", *c.Email, n, c.ID)
		}
		if c.Phone != nil {
			n := c.Normalized.Phone
			if n == nil {
				n = Nullable(matcher.NormalizePhone(*c.Phone, "").E164)
			}
			add("phone", *c.Phone, n, c.ID)
		}
	}
	for _, a := range alts {
		f := a.ContactID
		if a.From != nil {
			f = *a.From
		}
		add(a.Kind, a.Value, a.Normalized, f)
	}
	out := make([]Alternate, 0, len(r.values)-start)
	for i := start; i < len(r.values); i++ {
		out = append(out, Alternate{Kind: r.kinds[i], Value: r.values[i], Normalized: r.normalized[i]})
	}
	return out
}

// RestoreAlternatesTx gives the merged contacts of merge mergeID back the alternates they had
// (rows: the snapshot's contact_alternates rows) and removes those the merge attached to the
// survivor.
func RestoreAlternatesTx(ctx context.Context, tx pgx.Tx, mergeID uuid.UUID, rows json.RawMessage, merged []uuid.UUID) error {
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM contact_alternates WHERE merge_id = $1`, mergeID)
	b.Queue(`INSERT INTO contact_alternates (contact_id, kind, value, normalized, from_contact_id, merge_id, created_at)
		SELECT contact_id, kind, value, normalized, from_contact_id, merge_id, created_at
		FROM jsonb_populate_recordset(null::contact_alternates, $1) WHERE contact_id = ANY($2)
		ON CONFLICT DO NOTHING`, rows, merged)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("contact: restore alternates: %w", err)
	}
	return nil
}
