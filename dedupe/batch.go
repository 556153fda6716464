package dedupe

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/matcher"
	"github.com/contactd/contactd/merge"
	"github.com/google/uuid"
)

// BatchOutcome sums the checks of a batch.
type BatchOutcome struct {
	Contacts  int  `json:"contacts"`
	Merges    int  `json:"merges"`
	Reviews   int  `json:"reviews"`
	Capped    int  `json:"blocksCapped"`
	Rechecks  int  `json:"rechecksQueued"` // contacts left to a check of their own (see CheckBatch)
	Retrained bool `json:"retrained"`      // a retraining was due first (see RetrainDue)
	// WaitSeconds is the time spent waiting for another batch check, TrainSeconds retraining,
	// ScoreSeconds reading and scoring, MergeSeconds merging the groups.
	WaitSeconds  float64 `json:"waitSeconds"`
	TrainSeconds float64 `json:"trainSeconds"`
	ScoreSeconds float64 `json:"scoreSeconds"`
	MergeSeconds float64 `json:"mergeSeconds"`
}

// CheckBatch checks many contacts (an import batch's) as CheckContact checks one, with a few
// queries for the whole batch instead of a few per contact: the batch's keys, every contact
// holding one of them, then scoring in memory. A contact grouped for a merge by an earlier
// check of the batch is not checked or proposed again, so the groups are disjoint, and they
// are merged together at the end with the Merger (without one it only proposes). As with a scan, the
// survivors get no further check of their own: every contact of the batch was compared with
// all its candidates. Batch checks run one at a time across processes (an advisory lock): two
// batches of one import share candidates, and run together each would merge groups the other
// has just changed, leaving them to one check each. When the contacts have outgrown the model
// (RetrainDue), it first trains and stores a new model version, and checks the batch with it.
func (e *Engine) CheckBatch(ctx context.Context, ids []uuid.UUID) (out BatchOutcome, err error) {
	start := time.Now()
	unlock, err := e.lockBatches(ctx)
	if err != nil {
		return out, err
	}
	defer unlock()
	wait := time.Since(start).Seconds()
	start = time.Now()
	retrained, err := e.retrainNowIfDue(ctx)
	if err != nil {
		return out, err
	}
	train := time.Since(start).Seconds()
	out, err = e.checkBatch(ctx, ids)
	out.WaitSeconds, out.Retrained, out.TrainSeconds = wait, retrained, train
	return out, err
}

// batchLock is the advisory lock a batch check holds while it checks and merges.
const batchLock = 7003

// lockBatches waits for the batch lock and returns what releases it.
func (e *Engine) lockBatches(ctx context.Context) (func(), error) {
	conn, err := e.Store.db.Pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("dedupe: batch lock: %w", err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, batchLock); err != nil {
		conn.Release()
		return nil, fmt.Errorf("dedupe: batch lock: %w", err)
	}
	return func() {
		// As for the scan lock: a connection that cannot unlock is closed, ending its session.
		ctx := context.WithoutCancel(ctx)
		var unlocked bool
		if err := conn.QueryRow(ctx, `SELECT pg_advisory_unlock($1)`, batchLock).Scan(&unlocked); err != nil || !unlocked {
			_ = conn.Conn().Close(ctx) // its error changes nothing: the connection is gone either way
		}
		conn.Release()
	}, nil
}

func (e *Engine) checkBatch(ctx context.Context, ids []uuid.UUID) (BatchOutcome, error) {
	var out BatchOutcome
	start := time.Now()
	md, version, err := e.Model(ctx)
	if err != nil {
		return out, err
	}
	groups, capped, err := e.Store.KeyGroups(ctx, ids, MaxBlock)
	if err != nil {
		return out, err
	}
	out.Capped = capped
	all := map[uuid.UUID]bool{}
	for _, id := range ids {
		all[id] = true
	}
	for _, g := range groups {
		for _, id := range g {
			all[id] = true
		}
	}
	allIDs := make([]uuid.UUID, 0, len(all))
	for id := range all {
		allIDs = append(allIDs, id)
	}
	loaded, err := e.Contacts.MatchContacts(ctx, allIDs)
	if err != nil {
		return out, err
	}
	active := make([]prepared, 0, len(loaded))
	for _, c := range loaded {
		if c.Status == contact.StatusActive {
			active = append(active, prepare(md, c))
		}
	}
	if err := e.withMembers(ctx, md, active); err != nil {
		return out, err
	}
	byID := make(map[uuid.UUID]prepared, len(active))
	for _, p := range active {
		byID[p.c.ID] = p
	}
	keysOf, err := e.Store.KeysOf(ctx, ids)
	if err != nil {
		return out, err
	}
	dismissals, err := e.Store.Dismissals(ctx, allIDs)
	if err != nil {
		return out, err
	}
	dismissed := func(_ context.Context, p ReviewProposal) (bool, error) { return dismissals.Has(p), nil }
	gone := map[uuid.UUID]bool{}
	var pending []ReviewProposal
	var reqs []merge.Request
	reqOf := map[uuid.UUID]int{} // a grouped contact → its request
	var missed []uuid.UUID       // contacts sure of a contact grouped before them
	for _, id := range ids {
		self, ok := byID[id]
		if !ok || gone[id] {
			continue
		}
		out.Contacts++
		seen := map[uuid.UUID]bool{id: true}
		var cands, grouped []prepared
		for _, k := range keysOf[id] {
			for _, o := range groups[k] {
				if p, ok := byID[o]; ok && !seen[o] {
					seen[o] = true
					if gone[o] {
						grouped = append(grouped, p)
						continue
					}
					cands = append(cands, p)
				}
			}
		}
		// A contact the model is sure of that is already in a group: this pass cannot add the
		// contact to it, a check after the merge can.
		for _, g := range grouped {
			if w, _, _ := best(md, self, g); md.Decide(w) == matcher.Same {
				missed = append(missed, id)
				break
			}
		}
		res, score, props, err := e.decide(ctx, md, version, self, cands, e.Merger != nil, dismissed)
		if err != nil {
			return out, err
		}
		pending = append(pending, props...)
		if len(pending) >= reviewFlush {
			n, err := e.Store.ProposeReviews(ctx, pending)
			if err != nil {
				return out, err
			}
			out.Reviews += n
			pending = pending[:0]
		}
		if len(res.Merged) > 0 {
			reqs = append(reqs, merge.Request{ContactIDs: res.Merged, ModelVersion: versionPtr(version), Score: &score})
			for _, m := range res.Merged {
				gone[m] = true
				reqOf[m] = len(reqs) - 1
			}
		}
	}
	n, err := e.Store.ProposeReviews(ctx, pending)
	out.Reviews += n
	out.ScoreSeconds = time.Since(start).Seconds()
	if err != nil || len(reqs) == 0 || e.Merger == nil {
		return out, err
	}
	start = time.Now()
	failed, err := e.mergeDisjoint(ctx, reqs)
	out.MergeSeconds = time.Since(start).Seconds()
	if err != nil {
		return out, fmt.Errorf("dedupe: merge the batch's groups: %w", err)
	}
	// What this pass could not decide gets a check of its own, against the merged state: a
	// contact the model is sure of a contact grouped before it (it may belong with the merged
	// person), and the contacts of a group whose merge failed because one of them changed or
	// was merged meanwhile. A check of a contact merged away does nothing; its survivor, in the
	// same group, is checked too.
	recheck := map[uuid.UUID]bool{}
	addGroup := func(i int) {
		for _, m := range reqs[i].ContactIDs {
			recheck[m] = true
		}
	}
	for i, ferr := range failed {
		if !skippable(ferr) {
			return out, fmt.Errorf("dedupe: merge %v: %w", reqs[i].ContactIDs, ferr)
		}
		addGroup(i)
	}
	for _, id := range missed {
		if i, ok := reqOf[id]; ok {
			addGroup(i)
		} else {
			recheck[id] = true
		}
	}
	out.Merges = len(reqs) - len(failed)
	out.Rechecks = len(recheck)
	if len(recheck) > 0 {
		err = e.Store.EnqueueChecks(ctx, slices.Collect(maps.Keys(recheck)))
	}
	return out, err
}

// mergeDisjoint merges disjoint groups as a scan does, bulkChunk to a call of the Merger's
// MergeClusters, bulkWorkers calls at once, and returns each failed request's error by its
// index in reqs.
func (e *Engine) mergeDisjoint(ctx context.Context, reqs []merge.Request) (map[int]error, error) {
	var (
		mu     sync.Mutex
		failed = map[int]error{}
		next   int
		wg     sync.WaitGroup
		errs   []error
	)
	for range bulkWorkers {
		wg.Go(func() {
			for {
				mu.Lock()
				if next >= len(reqs) || len(errs) > 0 {
					mu.Unlock()
					return
				}
				from, to := next, min(next+bulkChunk, len(reqs))
				next = to
				mu.Unlock()
				_, bad, err := e.Merger.MergeClusters(ctx, reqs[from:to])
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				}
				for i, ferr := range bad {
					failed[from+i] = ferr
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return failed, errors.Join(errs...)
}

// reviewFlush is how many review proposals are written together.
const reviewFlush = 5000
