package consent_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"pgregory.net/rapid"
)

// TestNoSequenceMakesAWithdrawnPersonReachable runs random sequences of grants, withdrawals,
// merges and undos over three people and checks, after every step, that no person who withdrew
// is reachable. A person withdrew when a withdrawal was recorded on their own contact, or on the
// survivor they were merged into while they were; only a later grant given to any record of
// the merged person they are part of lifts it.
func TestNoSequenceMakesAWithdrawnPersonReachable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	start := time.Now().Add(-24 * time.Hour)
	run := 0
	rapid.Check(t, func(rt *rapid.T) {
		run++
		const n = 3
		ids := make([]uuid.UUID, n)
		for i := range ids {
			ids[i] = b.newContact(t, fmt.Sprintf("p%d-%d", run, i))
		}
		parent := make([]int, n) // -1: active
		for i := range parent {
			parent[i] = -1
		}
		root := func(i int) int {
			for parent[i] >= 0 {
				i = parent[i]
			}
			return i
		}
		withdrawn := make([]bool, n)
		type done struct {
			id       uuid.UUID
			survivor int
			merged   []int
		}
		var merges []done
		clock := start.Add(time.Duration(run) * time.Minute)
		steps := rapid.IntRange(3, 12).Draw(rt, "steps")
		for step := range steps {
			clock = clock.Add(time.Second)
			switch op := rapid.SampledFrom([]string{"grant", "grant", "withdraw", "merge", "merge", "undo", "undo"}).Draw(rt, fmt.Sprintf("op%d", step)); op {
			case "grant", "withdraw":
				x := rapid.IntRange(0, n-1).Draw(rt, fmt.Sprintf("on%d", step))
				e := grant("email", "marketing", clock)
				if op == "withdraw" {
					e = withdraw("email", "marketing", clock)
				}
				b.record(t, ids[x], e)
				for p := range n {
					switch {
					case op == "withdraw" && (p == x || (parent[x] < 0 && root(p) == x)):
						withdrawn[p] = true
					case op == "grant" && root(p) == root(x):
						// A grant speaks for the merged person: it is recorded on the survivor.
						withdrawn[p] = false
					}
				}
			case "merge":
				var active []int
				for i := range n {
					if parent[i] < 0 {
						active = append(active, i)
					}
				}
				if len(active) < 2 {
					continue
				}
				s := rapid.SampledFrom(active).Draw(rt, fmt.Sprintf("survivor%d", step))
				others := slices.DeleteFunc(slices.Clone(active), func(i int) bool { return i == s })
				m := rapid.SampledFrom(others).Draw(rt, fmt.Sprintf("merged%d", step))
				merges = append(merges, done{id: b.merge(t, ids[s], ids[m]), survivor: s, merged: []int{m}})
				parent[m] = s
			case "undo":
				if len(merges) == 0 {
					continue
				}
				last := merges[len(merges)-1]
				merges = merges[:len(merges)-1]
				b.undo(t, last.id)
				for _, m := range last.merged {
					parent[m] = -1
				}
			}
			as, err := b.cs.ReachableMany(b.ctx, ids, "email", "marketing")
			if err != nil {
				t.Fatal(err)
			}
			// The consent state kept on the contacts answers as the fold of their events does.
			folded, err := b.cs.ReachableByFold(b.ctx, ids, "email", "marketing")
			if err != nil {
				t.Fatal(err)
			}
			for p := range n {
				if withdrawn[p] && as[p].Allowed {
					rt.Fatalf("step %d: person %d withdrew but is reachable (root %d): %+v", step, p, root(p), as[p])
				}
				if as[p].Allowed != folded[p].Allowed || as[p].Reason != folded[p].Reason {
					rt.Fatalf("step %d: person %d (root %d): the kept state answers %+v, the events %+v", step, p, root(p), as[p], folded[p])
				}
			}
		}
	})
}
