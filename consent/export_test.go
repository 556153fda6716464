package consent

import (
	"context"

	"github.com/google/uuid"
)

// ManySQL is the statement that answers most contacts, for the benchmark's plan.
const ManySQL = manySQL

// ReachableByFold answers ids as ReachableMany does, each through the fold of every record
// merged into it (reachSQL): the reference ReachableMany's one statement is checked against.
func (s *Store) ReachableByFold(ctx context.Context, ids []uuid.UUID, channel, purpose string) ([]Answer, error) {
	p, err := s.cachedPurpose(ctx, purpose)
	if err != nil {
		return nil, err
	}
	now := s.now()
	byID := map[uuid.UUID]Answer{}
	err = scanFolded(ctx, s.db.Pool, ids, channel, purpose, func(r *reachRow, own []ownEvent) {
		byID[r.input] = s.answer(r, decide(own, p.LawfulBases), channel, p, now)
	})
	if err != nil {
		return nil, err
	}
	out := make([]Answer, len(ids))
	for i, id := range ids {
		a, ok := byID[id]
		if !ok {
			a = Answer{ContactID: id, Reason: ReasonNotFound}
		}
		out[i] = a
	}
	return out, nil
}
