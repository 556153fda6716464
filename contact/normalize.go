package contact

import (
	"context"
	"errors"
	"fmt"

	"github.com/contactd/contactd/matcher"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Normalize (re)writes a contact's normalized email and phone from its current values, using
// defaultRegion for phones without a country code, and has the duplicate checker's index
// (SetIndex) rekey it and check it. The contact row is locked while it reads and
// writes, so a concurrent change is either seen or waits; inTx runs in the same transaction
// before it commits (the worker completes its job there). A contact that no longer exists is
// not an error.
func (s *Store) Normalize(ctx context.Context, id uuid.UUID, defaultRegion string, inTx func(pgx.Tx) error) error {
	return s.db.InTx(ctx, func(tx pgx.Tx) error {
		c, err := ScanContact(tx.QueryRow(ctx, `SELECT `+contactColumns+` FROM contacts c WHERE c.id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return inTx(tx)
		}
		if err != nil {
			return fmt.Errorf("contact: lock %s: %w", id, err)
		}
		before := c.Normalized
		after := normalizedForms(c.Email, c.Phone, defaultRegion)
		err = tx.QueryRow(ctx, `UPDATE contacts SET email_normalized = $2, phone_e164 = $3, phone_extension = $4,
			phone_valid = $5, normalized_at = now() WHERE id = $1 RETURNING normalized_at`,
			id, after.Email, after.Phone, after.PhoneExtension, after.PhoneValid).Scan(&after.At)
		if err != nil {
			return fmt.Errorf("contact: write normalized forms of %s: %w", id, err)
		}
		c.Normalized = after
		if s.index != nil {
			if err := s.index.ReindexTx(ctx, tx, c); err != nil {
				return err
			}
		}
		if changes := before.changes(after); len(changes) > 0 {
			a := NewAudit(ctx)
			a.Add("normalize", "contact", id, &id, changes)
			if err := a.Flush(ctx, tx); err != nil {
				return err
			}
		}
		return inTx(tx)
	})
}

// normalizedForms derives the normalized forms of an email and a phone.
func normalizedForms(email, phone *string, defaultRegion string) Normalized {
	var n Normalized
	if email != nil {
		n.Email = EmailKey(email)
	}
	if phone != nil {
		p := matcher.NormalizePhone(*phone, defaultRegion)
		n.Phone, n.PhoneExtension, n.PhoneValid = Nullable(p.E164), Nullable(p.Extension), &p.Valid
	}
	return n
}

func (n Normalized) changes(after Normalized) map[string]Change {
	out := map[string]Change{}
	diff := func(field string, b, a *string) {
		if strPtrValue(b) != strPtrValue(a) {
			out[field] = Change{Before: strPtrValue(b), After: strPtrValue(a)}
		}
	}
	diff("normalized.email", n.Email, after.Email)
	diff("normalized.phone", n.Phone, after.Phone)
	diff("normalized.phoneExtension", n.PhoneExtension, after.PhoneExtension)
	bv := func(p *bool) any {
		if p == nil {
			return nil
		}
		return *p
	}
	if bv(n.PhoneValid) != bv(after.PhoneValid) {
		out["normalized.phoneValid"] = Change{Before: bv(n.PhoneValid), After: bv(after.PhoneValid)}
	}
	return out
}
