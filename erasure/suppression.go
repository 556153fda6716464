package erasure

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/matcher"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// MinKeyLen is the shortest suppression key SetKey accepts, in bytes.
const MinKeyLen = 32

// The reasons a person is suppressed.
const (
	ReasonErased    = "erased"
	ReasonWithdrawn = "withdrawn"
)

// Suppressions is the suppression list: keyed HMAC-SHA256 of the canonical emails
// (matcher.EmailKey) and phones (E.164) of people who were erased or withdrew everything. It
// satisfies contact.Suppressor. It is safe for concurrent use once its key is set.
type Suppressions struct {
	db     *db.DB
	key    []byte
	region string
}

// NewSuppressions returns the list over d. Until SetKey is called it uses a random key of its
// own, which no other process shares and which dies with the process: entries it writes match
// nothing after a restart or in another process (set CONTACTD_SUPPRESSION_KEY).
func NewSuppressions(d *db.DB) *Suppressions {
	key := make([]byte, MinKeyLen)
	if _, err := rand.Read(key); err != nil {
		panic("erasure: no randomness: " + err.Error())
	}
	return &Suppressions{db: d, key: key, region: "US"}
}

// SetKey sets the HMAC key (at least MinKeyLen bytes). Every process of a deployment must use
// the same key; changing it forgets every entry.
func (s *Suppressions) SetKey(key []byte) error {
	if len(key) < MinKeyLen {
		return db.Invalid("suppressionKey", "must be at least %d bytes", MinKeyLen)
	}
	s.key = append([]byte(nil), key...)
	return nil
}

// SetDefaultRegion sets the region of stored phones without a country code (default US), for
// the entries of contacts not normalized yet.
func (s *Suppressions) SetDefaultRegion(region string) { s.region = region }

func (s *Suppressions) mac(kind, canonical string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(kind + "\x00" + canonical))
	return m.Sum(nil)
}

// canonical returns the canonical email and phone of v ("" for none or unreadable).
func canonical(v contact.Values, defaultRegion string) (email, phone string) {
	if v.Email != nil {
		email = matcher.EmailKey(*v.Email)
	}
	if v.Phone != nil {
		phone = matcher.NormalizePhone(*v.Phone, defaultRegion).E164
	}
	return email, phone
}

// AddTx puts the canonical emails and phones on the list for reason, from the contact (nil for
// none); an entry there already keeps its first reason.
func (s *Suppressions) AddTx(ctx context.Context, tx pgx.Tx, emails, phones []string, reason string, contactID *uuid.UUID) error {
	var kinds []string
	var macs [][]byte
	for _, e := range emails {
		kinds, macs = append(kinds, "email"), append(macs, s.mac("email", e))
	}
	for _, p := range phones {
		kinds, macs = append(kinds, "phone"), append(macs, s.mac("phone", p))
	}
	if len(kinds) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO suppressions (kind, hmac, reason, contact_id)
		SELECT k, h, $3, $4 FROM unnest($1::text[], $2::bytea[]) AS u(k, h)
		ON CONFLICT (kind, hmac) DO NOTHING`, kinds, macs, reason, contactID)
	if err != nil {
		return fmt.Errorf("erasure: add suppressions: %w", err)
	}
	return nil
}

// SuppressedTx reports, by position in vs, whether each one's email or phone is on the list, in
// one query for all of them. defaultRegion reads phones without a country code.
func (s *Suppressions) SuppressedTx(ctx context.Context, q db.Querier, vs []contact.Values, defaultRegion string) ([]bool, error) {
	out := make([]bool, len(vs))
	var idx []int32
	var kinds []string
	var macs [][]byte
	for i, v := range vs {
		e, p := canonical(v, defaultRegion)
		if e != "" {
			idx, kinds, macs = append(idx, int32(i)), append(kinds, "email"), append(macs, s.mac("email", e))
		}
		if p != "" {
			idx, kinds, macs = append(idx, int32(i)), append(kinds, "phone"), append(macs, s.mac("phone", p))
		}
	}
	if len(idx) == 0 {
		return out, nil
	}
	rows, err := q.Query(ctx, `SELECT DISTINCT u.i FROM unnest($1::int[], $2::text[], $3::bytea[]) AS u(i, k, h)
		JOIN suppressions s ON s.kind = u.k AND s.hmac = u.h`, idx, kinds, macs)
	if err != nil {
		return nil, fmt.Errorf("erasure: check suppressions: %w", err)
	}
	hits, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("erasure: check suppressions: %w", err)
	}
	for _, i := range hits {
		out[i] = true
	}
	return out, nil
}

// SuppressContactTx puts the contact's current email and phone on the list as withdrawn (it
// withdrew everything).
func (s *Suppressions) SuppressContactTx(ctx context.Context, tx pgx.Tx, contactID uuid.UUID) error {
	var email, phone, e164 *string
	err := tx.QueryRow(ctx, `SELECT email, phone, phone_e164 FROM contacts WHERE id = $1`, contactID).Scan(&email, &phone, &e164)
	if err != nil {
		return fmt.Errorf("erasure: suppress %s: %w", contactID, err)
	}
	if e164 != nil {
		phone = e164
	}
	e, p := canonical(contact.Values{Email: email, Phone: phone}, s.region)
	return s.AddTx(ctx, tx, nonEmpty(e), nonEmpty(p), ReasonWithdrawn, &contactID)
}

// LiftContactTx takes off the list the entries the contact's withdrawal put there (it granted
// consent again). Entries of erasures stay.
func (s *Suppressions) LiftContactTx(ctx context.Context, tx pgx.Tx, contactID uuid.UUID) error {
	if _, err := tx.Exec(ctx, `DELETE FROM suppressions WHERE contact_id = $1 AND reason = 'withdrawn'`, contactID); err != nil {
		return fmt.Errorf("erasure: lift suppressions of %s: %w", contactID, err)
	}
	return nil
}

// LiftTx takes v's email and phone off the list, whatever put them there: the person came back
// with a new consent event, which the caller records in the same transaction.
func (s *Suppressions) LiftTx(ctx context.Context, tx pgx.Tx, v contact.Values, defaultRegion string) error {
	e, p := canonical(v, defaultRegion)
	var kinds []string
	var macs [][]byte
	if e != "" {
		kinds, macs = append(kinds, "email"), append(macs, s.mac("email", e))
	}
	if p != "" {
		kinds, macs = append(kinds, "phone"), append(macs, s.mac("phone", p))
	}
	if len(kinds) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `DELETE FROM suppressions s USING unnest($1::text[], $2::bytea[]) AS u(k, h)
		WHERE s.kind = u.k AND s.hmac = u.h`, kinds, macs)
	if err != nil {
		return fmt.Errorf("erasure: lift suppressions: %w", err)
	}
	return nil
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
