package dedupe

import (
	"context"
	"fmt"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/matcher"
	"github.com/google/uuid"
)

// CheckRecords is CheckRecord for many records that are not stored (a sync's page of new
// records): the same matches for each, in position order, with one read of the blocks and one
// of the candidates for all of them.
func (e *Engine) CheckRecords(ctx context.Context, cs []*contact.Contact) ([][]Match, error) {
	out := make([][]Match, len(cs))
	if len(cs) == 0 {
		return out, nil
	}
	md, _, err := e.Model(ctx)
	if err != nil {
		return nil, err
	}
	keysOf := make([][]string, len(cs))
	seen := map[string]bool{}
	var keys []string
	for i, c := range cs {
		keysOf[i] = BlockingKeys(c, nil)
		for _, k := range keysOf[i] {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	blocks, err := e.Store.blocksByKeys(ctx, keys, MaxBlock)
	if err != nil {
		return nil, err
	}
	var ids []uuid.UUID
	have := map[uuid.UUID]bool{}
	for _, b := range blocks {
		for _, id := range b {
			if !have[id] {
				have[id] = true
				ids = append(ids, id)
			}
		}
	}
	cands, err := e.Contacts.MatchContacts(ctx, ids)
	if err != nil {
		return nil, err
	}
	prepared := make(map[uuid.UUID]prepared, len(cands))
	for _, cand := range cands {
		if cand.Status == contact.StatusActive {
			prepared[cand.ID] = prepare(md, cand)
		}
	}
	for i, c := range cs {
		self := prepare(md, contact.MatchContact{Contact: c})
		done := map[uuid.UUID]bool{}
		for _, k := range keysOf[i] {
			for _, id := range blocks[k] {
				p, ok := prepared[id]
				if !ok || done[id] {
					continue
				}
				done[id] = true
				w, ra, rb := best(md, self, p)
				d := md.Decide(w)
				if d == matcher.Different {
					continue
				}
				out[i] = append(out[i], Match{ContactID: id, Weight: w, Probability: matcher.Probability(w), Decision: d, Explanation: md.Explain(ra, rb)})
			}
		}
		sortMatches(out[i])
	}
	return out, nil
}

// blocksByKeys returns the contacts holding each key, leaving out keys held by more than
// maxBlock contacts.
func (s *Store) blocksByKeys(ctx context.Context, keys []string, maxBlock int) (map[string][]uuid.UUID, error) {
	rows, err := s.db.Pool.Query(ctx, `
		SELECT k.key, m.contact_ids FROM unnest($1::text[]) AS k(key)
		CROSS JOIN LATERAL (SELECT array_agg(o.contact_id) AS contact_ids FROM (
			SELECT contact_id FROM contact_keys WHERE key = k.key LIMIT $2 + 1) o) m
		WHERE m.contact_ids IS NOT NULL`, keys, maxBlock)
	if err != nil {
		return nil, fmt.Errorf("dedupe: blocks: %w", err)
	}
	defer rows.Close()
	out := map[string][]uuid.UUID{}
	for rows.Next() {
		var k string
		var ids []uuid.UUID
		if err := rows.Scan(&k, &ids); err != nil {
			return nil, fmt.Errorf("dedupe: blocks: %w", err)
		}
		if len(ids) <= maxBlock {
			out[k] = ids
		}
	}
	return out, rows.Err()
}
