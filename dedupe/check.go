package dedupe

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/matcher"
	"github.com/contactd/contactd/merge"
	"github.com/google/uuid"
)

// Outcome says what a check did.
type Outcome struct {
	Candidates int
	Capped     int
	Merged     []uuid.UUID // contacts merged with the checked one (survivor included)
	Reviews    int         // pairs proposed for review
}

// CheckContact checks one contact against the active contacts sharing a blocking key with it:
// the ones the model calls the same person are merged with it (unless a person dismissed the
// pair, or the group would chain two clearly different people), the possible ones are proposed
// for review (only proposed, without a Merger). A contact that is no longer active is left alone.
func (e *Engine) CheckContact(ctx context.Context, id uuid.UUID) (Outcome, error) {
	var out Outcome
	md, version, err := e.Model(ctx)
	if err != nil {
		return out, err
	}
	self, cands, capped, err := e.Store.CheckSet(ctx, id, MaxBlock)
	if err != nil {
		return out, err
	}
	if self == nil || self.Status != contact.StatusActive {
		return out, nil
	}
	ps := make([]prepared, 0, len(cands)+1)
	for _, c := range cands {
		ps = append(ps, prepare(md, c))
	}
	ps = append(ps, prepare(md, *self))
	if err := e.withMembers(ctx, md, ps); err != nil {
		return out, err
	}
	me := ps[len(ps)-1]
	out, score, proposals, err := e.decide(ctx, md, version, me, ps[:len(ps)-1], e.Merger != nil, e.Store.Dismissed)
	if err != nil {
		return out, err
	}
	if len(out.Merged) > 0 {
		_, err := e.Merger.Merge(ctx, merge.Request{ContactIDs: out.Merged, ModelVersion: versionPtr(version), Score: &score})
		if err != nil {
			return out, fmt.Errorf("dedupe: merge %v: %w", out.Merged, err)
		}
	}
	out.Capped = capped
	out.Reviews, err = e.Store.ProposeReviews(ctx, proposals)
	return out, err
}

// dismissedFunc reports whether a person dismissed a pair (and neither contact changed since).
type dismissedFunc func(context.Context, ReviewProposal) (bool, error)

// decide scores one contact against its candidates as CheckContact says. It returns, in
// out.Merged, the group to merge (the contact first) when merging, with its score (the weakest
// sure pair's probability), and the pairs to propose for review; the caller merges and writes
// the proposals, so that a batch can do both in bulk.
func (e *Engine) decide(ctx context.Context, md *matcher.Model, version int, self prepared, cands []prepared, merging bool, dismissed dismissedFunc) (out Outcome, score float64, proposals []ReviewProposal, err error) {
	id := self.c.ID
	selfPrint := Fingerprint(self.c.Contact)
	_, _, conflict := md.Thresholds()

	type scored struct {
		p      prepared
		w      float64
		ra, rb *matcher.Prepared
	}
	var same, possible []scored
	for _, p := range cands {
		out.Candidates++
		w, ra, rb := best(md, self, p)
		switch md.Decide(w) {
		case matcher.Same:
			same = append(same, scored{p, w, ra, rb})
		case matcher.Possible:
			possible = append(possible, scored{p, w, ra, rb})
		}
	}
	// Strongest first; a candidate joins the group only if it does not clearly differ from
	// any member already in it (no chaining A~B, B~C into A with C).
	for i := 1; i < len(same); i++ {
		for j := i; j > 0 && same[j].w > same[j-1].w; j-- {
			same[j], same[j-1] = same[j-1], same[j]
		}
	}
	// The group must keep the scan's clustering rule: no member, nor any contact merged into
	// one before, clearly differs from another.
	group := []prepared{self}
	members := slices.Clone(self.members)
	minScore := math.Inf(1)
	for _, s := range same {
		prop := ReviewProposal{A: id, B: s.p.c.ID, Score: matcher.Probability(s.w), ModelVersion: versionPtr(version),
			FingerprintA: selfPrint, FingerprintB: Fingerprint(s.p.c.Contact)}
		was, err := dismissed(ctx, prop)
		if err != nil {
			return out, 0, nil, err
		}
		if was {
			continue
		}
		// Nor may it have been dismissed (or split by an undo) with a member.
		fits := !clustersConflict(md, members, s.p.members, conflict)
		for _, g := range group[1:] {
			if !fits {
				break
			}
			was, err := dismissed(ctx, ReviewProposal{A: g.c.ID, B: s.p.c.ID,
				FingerprintA: Fingerprint(g.c.Contact), FingerprintB: Fingerprint(s.p.c.Contact)})
			if err != nil {
				return out, 0, nil, err
			}
			fits = !was
		}
		if !fits || !merging {
			possible = append(possible, s)
			continue
		}
		group = append(group, s.p)
		members = append(members, s.p.members...)
		minScore = math.Min(minScore, s.w)
	}
	if len(group) > 1 {
		ids := make([]uuid.UUID, len(group))
		for i, g := range group {
			ids[i] = g.c.ID
		}
		out.Merged, score = ids, matcher.Probability(minScore)
	}
	for _, s := range possible {
		proposals = append(proposals, ReviewProposal{
			A: id, B: s.p.c.ID, Score: matcher.Probability(s.w), Explanation: md.Explain(s.ra, s.rb),
			ModelVersion: versionPtr(version), FingerprintA: selfPrint, FingerprintB: Fingerprint(s.p.c.Contact),
		})
	}
	return out, score, proposals, nil
}
