package contact

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/matcher"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// AlternateKey is the identity of an alternate of kind: its normalized email (lower case), or
// the phone as written.
func AlternateKey(kind, value string) string {
	if kind == "email" {
		if k := EmailKey(&value); k != nil {
			return strings.ToLower(*k)
		}
		return strings.ToLower(strings.TrimSpace(value))
	}
	return strings.TrimSpace(value)
}

func alternateNormalized(kind, value string) *string {
	if kind == "email" {
		return EmailKey(&value)
	}
	return Nullable(matcher.NormalizePhone(value, "").E164)
}

// SetAlternatesTx makes the alternates of kind ("email" or "phone") of each contact exactly
// want[id] (by AlternateKey), adding the missing ones as the contact's own (no merge) and
// removing the others, whoever added them. It returns, by contact, the values added and removed
// (for the caller's audit). The caller holds the contacts' locks.
func SetAlternatesTx(ctx context.Context, tx pgx.Tx, kind string, want map[uuid.UUID][]string) (added, removed map[uuid.UUID][]string, err error) {
	added, removed = map[uuid.UUID][]string{}, map[uuid.UUID][]string{}
	if len(want) == 0 {
		return added, removed, nil
	}
	ids := make([]uuid.UUID, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	cur, err := AlternatesOf(ctx, tx, ids)
	if err != nil {
		return nil, nil, err
	}
	var insID, delID []uuid.UUID
	var insVal, delVal []string
	var insNorm []*string
	for _, id := range ids {
		have := map[string]bool{}
		for _, a := range cur[id] {
			if a.Kind == kind {
				have[AlternateKey(kind, a.Value)] = true
			}
		}
		keep := map[string]bool{}
		for _, v := range want[id] {
			k := AlternateKey(kind, v)
			if keep[k] {
				continue
			}
			keep[k] = true
			if !have[k] {
				insID, insVal, insNorm = append(insID, id), append(insVal, v), append(insNorm, alternateNormalized(kind, v))
				added[id] = append(added[id], v)
			}
		}
		for _, a := range cur[id] {
			if a.Kind == kind && !keep[AlternateKey(kind, a.Value)] {
				delID, delVal = append(delID, id), append(delVal, a.Value)
				removed[id] = append(removed[id], a.Value)
			}
		}
	}
	b := &pgx.Batch{}
	if len(delID) > 0 {
		b.Queue(`DELETE FROM contact_alternates a USING unnest($1::uuid[], $2::text[]) AS u(id, v)
			WHERE a.contact_id = u.id AND a.kind = $3 AND a.value = u.v`, delID, delVal, kind)
	}
	if len(insID) > 0 {
		b.Queue(`INSERT INTO contact_alternates (contact_id, kind, value, normalized)
			SELECT u.id, $4, u.v, u.n FROM unnest($1::uuid[], $2::text[], $3::text[]) AS u(id, v, n)
			ON CONFLICT DO NOTHING`, insID, insVal, insNorm, kind)
	}
	if b.Len() > 0 {
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return nil, nil, fmt.Errorf("contact: set alternates: %w", err)
		}
	}
	return added, removed, nil
}

// UnarchiveTx makes an archived contact active again, auditing it into a (the caller flushes
// it), and reports whether it changed anything: only an archived contact is un-archived. It
// fails with KindConflict when another active contact has its email now.
func UnarchiveTx(ctx context.Context, tx pgx.Tx, id uuid.UUID, a *Audit) (bool, error) {
	var status Status
	var email *string
	err := tx.QueryRow(ctx, `SELECT status, email FROM contacts WHERE id = $1 FOR UPDATE`, id).Scan(&status, &email)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, db.NotFound("contact %s not found", id)
	}
	if err != nil {
		return false, fmt.Errorf("contact: lock %s: %w", id, err)
	}
	if status != StatusArchived {
		return false, nil
	}
	if email != nil {
		other, err := ActiveWithEmailTx(ctx, tx, *email)
		if err != nil {
			return false, err
		}
		if other != nil {
			return false, db.Conflict("email %s belongs to active contact %s", *email, other)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE contacts SET status = 'active', version = version + 1, updated_at = now() WHERE id = $1`, id); err != nil {
		return false, fmt.Errorf("contact: unarchive %s: %w", id, err)
	}
	a.Add("update", "contact", id, &id, map[string]Change{"status": {Before: string(StatusArchived), After: string(StatusActive)}})
	return true, nil
}

// ActiveWithEmailsTx is ActiveWithEmailTx for many addresses at once (keys: their normalized
// lower-case forms, see AlternateKey): it takes every address's lock, in key order, and
// returns the active contact of each key that has one.
func ActiveWithEmailsTx(ctx context.Context, tx pgx.Tx, keys []string) (map[string]uuid.UUID, error) {
	out := map[string]uuid.UUID{}
	if len(keys) == 0 {
		return out, nil
	}
	keys = slices.Clone(keys)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended(k, 7001)) FROM unnest($1::text[]) AS k ORDER BY k`, keys); err != nil {
		return nil, fmt.Errorf("contact: lock emails: %w", err)
	}
	// A join on unnest, not = ANY: a generic plan's = ANY over a parameter is not hashed, and
	// costs the table's rows times the keys.
	rows, err := tx.Query(ctx, `SELECT DISTINCT ON (k.key) k.key, c.id FROM unnest($1::text[]) AS k(key)
		JOIN contacts c ON lower(c.email_normalized) = k.key AND c.status = 'active' AND c.email_normalized IS NOT NULL
		ORDER BY k.key, c.id`, keys)
	if err != nil {
		return nil, fmt.Errorf("contact: find emails: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var id uuid.UUID
		if err := rows.Scan(&k, &id); err != nil {
			return nil, fmt.Errorf("contact: find emails: %w", err)
		}
		out[k] = id
	}
	return out, rows.Err()
}
