package consent

import (
	"slices"
	"time"

	"github.com/google/uuid"
)

// foldSQL starts a query over the contacts $1 (uuid[]): root(input, root) is each one's
// contact at the end of its merges, and fold(root, id, joined) every contact folded into a root
// (the root itself included) with the time it joined the root: for a contact merged straight
// into the root the time of that merge, for one further down the time its branch was merged into
// the root (merges into a contact happen while it is active, so that is the latest merge on the
// way). The root joins at the epoch; a merge without a record (none should be) at the end of
// time, so that nothing the root records overrides what it cannot date. Each level's merged
// contacts are read by index (a hash join would scan contacts once per level).
const foldSQL = `
	WITH RECURSIVE input (id) AS (SELECT DISTINCT unnest($1::uuid[])),
	up (input, id, merged_into, depth) AS (
		SELECT c.id, c.id, c.merged_into, 0 FROM input i
		CROSS JOIN LATERAL (SELECT c.id, c.merged_into FROM contacts c WHERE c.id = i.id OFFSET 0) c
		UNION ALL
		SELECT up.input, c.id, c.merged_into, up.depth + 1 FROM up
		CROSS JOIN LATERAL (SELECT c.id, c.merged_into FROM contacts c WHERE c.id = up.merged_into OFFSET 0) c
		WHERE up.depth < 1000),
	root (input, root) AS (SELECT input, id FROM up WHERE merged_into IS NULL),
	fold (root, id, joined) AS (
		SELECT DISTINCT root, root, '1970-01-01 00:00:00+00'::timestamptz FROM root
		UNION ALL
		SELECT f.root, c.id, CASE WHEN f.id = f.root THEN coalesce(
				(SELECT max(m.created_at) FROM merges m
				 WHERE m.survivor_id = f.id AND m.merged_ids @> ARRAY[c.id] AND m.undone_at IS NULL),
				'9999-12-31 00:00:00+00'::timestamptz)
			ELSE f.joined END
		FROM fold f CROSS JOIN LATERAL (SELECT c.id FROM contacts c WHERE c.merged_into = f.id OFFSET 0) c)`

// ownEvent is the latest event of one folded contact on a (channel, purpose).
type ownEvent struct {
	ID uuid.UUID
	// Root says the event is the root contact's own (the contact answered for).
	Root bool
	// Joined is when the event's contact joined the root.
	Joined             time.Time
	Status, Basis      string
	Captured, Recorded time.Time
}

// verdict is the effective consent of a root on a (channel, purpose).
type verdict struct {
	// status is Granted, Withdrawn or "" (no record).
	status string
	// validBasis says a grant names a basis the purpose accepts.
	validBasis bool
	event      uuid.UUID
}

// decide computes a root's effective consent from the latest event of each contact folded into
// it. A withdrawal holds unless the root itself recorded a grant captured after the withdrawal
// and recorded after the withdrawing contact joined it: grants merged in from other records
// never lift a withdrawal (merges never widen consent), and neither do the root's grants from
// before the merge. Without a withdrawal in force, the consent is granted when any grant is (with
// a basis in bases, when bases is not nil).
func decide(own []ownEvent, bases []string) verdict {
	var v verdict
	var w *ownEvent
	for i := range own {
		e := &own[i]
		if e.Status != Withdrawn {
			continue
		}
		lifted := slices.ContainsFunc(own, func(g ownEvent) bool {
			return g.Root && g.Status == Granted && g.Captured.After(e.Captured) && g.Recorded.After(e.Joined)
		})
		if !lifted && (w == nil || e.Captured.After(w.Captured)) {
			w = e
		}
	}
	if w != nil {
		return verdict{status: Withdrawn, event: w.ID}
	}
	var g *ownEvent
	for i := range own {
		e := &own[i]
		if e.Status != Granted {
			continue
		}
		valid := bases == nil || slices.Contains(bases, e.Basis)
		better := g == nil || (valid && !v.validBasis) || (valid == v.validBasis && (e.Root && !g.Root ||
			e.Root == g.Root && e.Captured.After(g.Captured)))
		if better {
			g, v.validBasis = e, valid
		}
	}
	if g != nil {
		v.status, v.event = Granted, g.ID
	}
	return v
}
