package contact

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/contactd/contactd/matcher"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Matcher returns the matcher compiled from the built-in contact settings: it prepares contacts
// for comparison and computes the blocking keys stored in contact_keys.
var Matcher = sync.OnceValue(func() *matcher.Matcher {
	m, err := matcher.New(matcher.DefaultSettings())
	if err != nil {
		panic(err) // the built-in settings are tested
	}
	return m
})

// Alternate is an email or phone a contact carries besides its own (from merged contacts).
type Alternate struct {
	Kind       string // "email" or "phone"
	Value      string
	Normalized *string
}

// MatchRecord is the contact as the matcher reads it.
func (c *Contact) MatchRecord() matcher.Record {
	r := matcher.Record{}
	for _, f := range Fields {
		if v := f.Get(&c.Values); v != nil && f.Matched {
			r[f.Name] = *v
		}
	}
	return r
}

// MatchRecords are the contact's records for matching: its own and, for each alternate email
// or phone, the same record carrying that one instead, so that a record matching a merged
// contact's address still finds the survivor.
func MatchRecords(c *Contact, alts []Alternate) []matcher.Record {
	base := c.MatchRecord()
	out := []matcher.Record{base}
	for _, a := range alts {
		v := maps(base)
		v[a.Kind] = a.Value
		out = append(out, v)
	}
	return out
}

func maps(r matcher.Record) matcher.Record {
	out := make(matcher.Record, len(r)+1)
	for k, v := range r {
		out[k] = v
	}
	return out
}

// BlockingKeys returns the union of the blocking keys of the contact's match records.
func BlockingKeys(c *Contact, alts []Alternate) []string {
	m := Matcher()
	var keys []string
	for _, r := range MatchRecords(c, alts) {
		keys = append(keys, m.KeysOf(r)...)
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// writeKeys replaces a contact's blocking keys.
func writeKeys(ctx context.Context, tx pgx.Tx, id uuid.UUID, keys []string) error {
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM contact_keys WHERE contact_id = $1`, id)
	if len(keys) > 0 {
		b.Queue(`INSERT INTO contact_keys (key, contact_id) SELECT k, $1 FROM unnest($2::text[]) AS k ON CONFLICT DO NOTHING`, id, keys)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("contact: write keys of %s: %w", id, err)
	}
	return nil
}

// alternatesOf returns the alternates of the contacts, by contact id.
func alternatesOf(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, ids []uuid.UUID) (map[uuid.UUID][]Alternate, error) {
	out := map[uuid.UUID][]Alternate{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := q.Query(ctx, `SELECT contact_id, kind, value, normalized FROM contact_alternates
		WHERE contact_id = ANY($1) ORDER BY contact_id, kind, value`, ids)
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
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Contact, error) { return ScanContact(r) })
	if err != nil {
		return nil, fmt.Errorf("contact: read contacts: %w", err)
	}
	return cs, nil
}

// RekeyTx recomputes and writes the blocking keys of the contacts inside tx (an active contact
// keeps keys; any other has none), from their rows (read with ReadTx, after every
// change to them) and their alternates as tx sees them. Merges call it for their survivors,
// whose alternates they change, and undos for every contact they restore.
func RekeyTx(ctx context.Context, tx pgx.Tx, cs []*Contact) error {
	if len(cs) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	alts, err := alternatesOf(ctx, tx, ids)
	if err != nil {
		return err
	}
	var keys []string
	var owners []uuid.UUID
	for _, c := range cs {
		if c.Status != StatusActive {
			continue
		}
		for _, k := range BlockingKeys(c, alts[c.ID]) {
			keys, owners = append(keys, k), append(owners, c.ID)
		}
	}
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM contact_keys WHERE contact_id = ANY($1)`, ids)
	if len(keys) > 0 {
		b.Queue(`INSERT INTO contact_keys (key, contact_id) SELECT * FROM unnest($1::text[], $2::uuid[]) ON CONFLICT DO NOTHING`, keys, owners)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("contact: rekey: %w", err)
	}
	return nil
}

// LockTx locks the contacts in id order and returns them by id (missing ones absent).
func LockTx(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) (map[uuid.UUID]*Contact, error) {
	rows, err := tx.Query(ctx, `SELECT `+contactColumns+` FROM contacts c WHERE c.id = ANY($1) ORDER BY c.id FOR UPDATE`, ids)
	if err != nil {
		return nil, fmt.Errorf("contact: lock contacts: %w", err)
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Contact, error) { return ScanContact(r) })
	if err != nil {
		return nil, fmt.Errorf("contact: lock contacts: %w", err)
	}
	out := make(map[uuid.UUID]*Contact, len(got))
	for _, c := range got {
		out[c.ID] = c
	}
	return out, nil
}
