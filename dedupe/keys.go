package dedupe

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/contactd/contactd/contact"
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

// MatchRecord is the contact as the matcher reads it: its matched fields (contact.Fields).
func MatchRecord(c *contact.Contact) matcher.Record {
	r := matcher.Record{}
	for _, f := range contact.Fields {
		if v := f.Get(&c.Values); v != nil && f.Matched {
			r[f.Name] = *v
		}
	}
	return r
}

// MatchRecords are the contact's records for matching: its own and, for each alternate email
// or phone, the same record carrying that one instead, so that a record matching a merged
// contact's address still finds the survivor.
func MatchRecords(c *contact.Contact, alts []contact.Alternate) []matcher.Record {
	base := MatchRecord(c)
	out := []matcher.Record{base}
	for _, a := range alts {
		v := maps.Clone(base)
		v[a.Kind] = a.Value
		out = append(out, v)
	}
	return out
}

// BlockingKeys returns the union of the blocking keys of the contact's match records.
func BlockingKeys(c *contact.Contact, alts []contact.Alternate) []string {
	m := Matcher()
	var keys []string
	for _, r := range MatchRecords(c, alts) {
		keys = append(keys, m.KeysOf(r)...)
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// rekeyTx recomputes and writes the blocking keys (table contact_keys, the index every check
// and scan blocks on) of the contacts inside tx: an active contact gets the keys of its values
// in cs and its alternates as tx sees them; any other has none.
func rekeyTx(ctx context.Context, tx pgx.Tx, cs []*contact.Contact) error {
	if len(cs) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	alts, err := contact.AlternatesOf(ctx, tx, ids)
	if err != nil {
		return err
	}
	return writeKeysTx(ctx, tx, cs, alts, nil)
}

// writeKeysTx replaces the keys of the contacts cs (and drops those of the contacts gone, which
// have none any more) with the keys of their values and alternates, in one round trip.
func writeKeysTx(ctx context.Context, tx pgx.Tx, cs []*contact.Contact, alts map[uuid.UUID][]contact.Alternate, gone []uuid.UUID) error {
	ids := make([]uuid.UUID, len(cs), len(cs)+len(gone))
	for i, c := range cs {
		ids[i] = c.ID
	}
	ids = append(ids, gone...)
	var keys []string
	var owners []uuid.UUID
	for _, c := range cs {
		if c.Status != contact.StatusActive {
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
		return fmt.Errorf("dedupe: rekey: %w", err)
	}
	return nil
}

// ReindexTx rewrites a contact's blocking keys from its values as they are in c, in tx (the
// transaction of the change to it), and enqueues its duplicate check when it is active. The
// contact store calls it when a contact's matched fields were (re)normalized.
func (s *Store) ReindexTx(ctx context.Context, tx pgx.Tx, c *contact.Contact) error {
	if err := rekeyTx(ctx, tx, []*contact.Contact{c}); err != nil {
		return err
	}
	if c.Status != contact.StatusActive {
		return nil
	}
	return s.EnqueueChecksTx(ctx, tx, []uuid.UUID{c.ID})
}

// Keys returns the contact.Owned concern of blocking keys: a merge drops the merged contacts'
// keys and rekeys the survivors (their alternates changed), an undo rekeys every contact it
// restores, erasure deletes them.
func (s *Store) Keys() contact.Owned { return keysOwned{} }

type keysOwned struct{}

func (keysOwned) Name() string { return "keys" }

func (keysOwned) SnapshotSQL(v contact.SnapshotVars) string {
	return `(SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.contact_id, r.key), '[]') FROM contact_keys r WHERE r.contact_id = ANY(` + v.All + `))`
}

func (keysOwned) MergeTx(ctx context.Context, tx pgx.Tx, ms []*contact.MergeSet) ([]json.RawMessage, error) {
	var merged []uuid.UUID
	survivors := make([]*contact.Contact, len(ms))
	alts := make(map[uuid.UUID][]contact.Alternate, len(ms))
	for i, m := range ms {
		merged = append(merged, m.Merged...)
		survivors[i] = m.Survivor
		alts[m.SurvivorID] = m.SurvivorAlternates
	}
	return make([]json.RawMessage, len(ms)), writeKeysTx(ctx, tx, survivors, alts, merged)
}

func (keysOwned) UndoTx(ctx context.Context, tx pgx.Tx, u *contact.UndoSet) ([]string, error) {
	return nil, rekeyTx(ctx, tx, u.Restored)
}

func (keysOwned) EraseTx(ctx context.Context, tx pgx.Tx, contactIDs []uuid.UUID) error {
	if _, err := tx.Exec(ctx, `DELETE FROM contact_keys WHERE contact_id = ANY($1)`, contactIDs); err != nil {
		return fmt.Errorf("dedupe: erase keys: %w", err)
	}
	return nil
}
