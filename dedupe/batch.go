package dedupe

import (
	"context"
	"errors"
	"fmt"
	"maps"
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
	Retrained bool `json:"retrained"`      // a retraining was due first (see RetrainReason)
	// RetrainReason says why, when Retrained.
	RetrainReason string `json:"retrainReason,omitempty"`
	// Loaded is how many active contacts the batch was checked against, its own included.
	Loaded int `json:"contactsLoaded"`
	// WaitSeconds is the time spent waiting for another batch check, TrainSeconds retraining,
	// LoadSeconds reading and preparing the contacts, ScoreSeconds scoring and clustering,
	// MergeSeconds merging the groups and proposing the reviews.
	WaitSeconds  float64 `json:"waitSeconds"`
	TrainSeconds float64 `json:"trainSeconds"`
	LoadSeconds  float64 `json:"loadSeconds"`
	ScoreSeconds float64 `json:"scoreSeconds"`
	MergeSeconds float64 `json:"mergeSeconds"`
}

// CheckBatch checks many contacts (an import batch's) as a scan checks them all, restricted to
// the batch: a few queries for the whole batch (its keys, every active contact holding one of
// them, the contacts merged into those), then the scan's blocking and scoring of every pair with
// a contact of the batch, and the scan's clustering, in which each contact starts with the
// contacts merged into it before so that no group chains two clearly different people. The
// groups are merged together with the Merger (without one it only proposes), the possible pairs
// left apart are proposed for review, and only the contacts of a group whose merge failed (one
// of them changed meanwhile) get a check of their own. Batch checks run one at a time across
// processes (an advisory lock): two batches of one import share candidates, and run together
// each would merge groups the other has just changed. When the contacts have outgrown the model
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
	reason, err := e.retrainNowIfDue(ctx)
	if err != nil {
		return out, err
	}
	train := time.Since(start).Seconds()
	out, err = e.checkBatch(ctx, ids)
	out.WaitSeconds, out.Retrained, out.RetrainReason, out.TrainSeconds = wait, reason != "", reason, train
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
	sc, focus, capped, err := e.loadBatch(ctx, md, ids)
	if err != nil {
		return out, err
	}
	out.Capped, out.Loaded = capped, len(sc.contacts)
	// What this batch takes in counts towards the next retraining (see RetrainReason): its
	// contacts created since the newest model was trained (the others it was trained on).
	trainedAt, err := e.Store.NewestModelAt(ctx)
	if err != nil {
		return out, err
	}
	var rows int64
	for _, at := range sc.batchCreated {
		if at.After(trainedAt) {
			rows++
		}
	}
	profile := Profile{Names: md.ProfileNames()}
	for i, c := range sc.contacts {
		if focus[sc.first[i]] && c.CreatedAt.After(trainedAt) {
			profile.Counts = md.Profile(sc.recs[sc.first[i]], profile.Counts)
			profile.Rows++
		}
	}
	if profile.Counts == nil {
		profile.Counts = make([]int64, len(profile.Names))
	}
	if err := e.Store.AddIntake(ctx, rows, profile); err != nil {
		return out, err
	}
	out.LoadSeconds = time.Since(start).Seconds()
	start = time.Now()
	for i := range sc.contacts {
		if focus[sc.first[i]] {
			out.Contacts++
		}
	}
	// The scan's blocking, scoring and clustering, over the batch and its candidates: only the
	// pairs with a contact of the batch are scored (the others were checked before), and each
	// contact starts in one cluster with the contacts merged into it.
	var st ScanStats
	if err := sc.score(ctx, md, &st, focus); err != nil {
		return out, err
	}
	dismissals, err := e.Store.Dismissals(ctx, sc.ids())
	if err != nil {
		return out, err
	}
	jobs, err := e.mergeJobs(md, sc, &st, dismissals)
	if err != nil {
		return out, err
	}
	out.ScoreSeconds = time.Since(start).Seconds()
	start = time.Now()
	reqs := make([]merge.Request, len(jobs))
	for i, j := range jobs {
		reqs[i] = merge.Request{ContactIDs: j.ids, ModelVersion: versionPtr(version), Score: &j.score}
	}
	var failed map[int]error
	if len(reqs) > 0 {
		failed, err = e.mergeDisjoint(ctx, reqs)
		if err != nil {
			return out, fmt.Errorf("dedupe: merge the batch's groups: %w", err)
		}
	}
	err = e.proposeScanned(ctx, md, sc, version, &st)
	out.Reviews, out.MergeSeconds = st.ReviewsOpened, time.Since(start).Seconds()
	if err != nil {
		return out, err
	}
	// The contacts of a group whose merge failed because one of them changed or was merged
	// meanwhile get a check of their own, against the state that made it fail.
	var recheck []uuid.UUID
	for i, ferr := range failed {
		if !skippable(ferr) {
			return out, fmt.Errorf("dedupe: merge %v: %w", reqs[i].ContactIDs, ferr)
		}
		recheck = append(recheck, reqs[i].ContactIDs...)
	}
	out.Merges = len(reqs) - len(failed)
	out.Rechecks = len(recheck)
	if len(recheck) > 0 {
		err = e.Store.EnqueueChecks(ctx, recheck)
	}
	return out, err
}

// loadBatch reads the contacts of a batch and every active contact sharing a blocking key with
// one of them (keys held by more than MaxBlock contacts aside, counted in capped), in a few
// queries for the whole batch, and prepares their records as a scan's load does. focus marks
// the records of the batch's contacts.
func (e *Engine) loadBatch(ctx context.Context, md *matcher.Model, ids []uuid.UUID) (sc *scanned, focus []bool, capped int, err error) {
	groups, capped, err := e.Store.KeyGroups(ctx, ids, MaxBlock)
	if err != nil {
		return nil, nil, 0, err
	}
	inBatch := make(map[uuid.UUID]bool, len(ids))
	all := make([]uuid.UUID, 0, len(ids))
	for _, id := range ids {
		if !inBatch[id] {
			inBatch[id] = true
			all = append(all, id)
		}
	}
	seen := maps.Clone(inBatch)
	for _, g := range groups {
		for _, id := range g {
			if !seen[id] {
				seen[id] = true
				all = append(all, id)
			}
		}
	}
	loaded, err := e.Contacts.MatchContacts(ctx, all)
	if err != nil {
		return nil, nil, 0, err
	}
	m := md.Matcher()
	sc = &scanned{}
	for _, c := range loaded {
		if inBatch[c.ID] {
			sc.batchCreated = append(sc.batchCreated, c.CreatedAt)
		}
		if c.Status != contact.StatusActive {
			continue
		}
		ci := int32(len(sc.contacts))
		sc.contacts = append(sc.contacts, c)
		sc.first = append(sc.first, int32(len(sc.recs)))
		for _, r := range MatchRecords(c.Contact, c.Alternates) {
			sc.recs = append(sc.recs, m.Prepare(r))
			sc.owner = append(sc.owner, ci)
			focus = append(focus, inBatch[c.ID])
		}
	}
	if err := sc.loadMerged(ctx, e.Contacts, m); err != nil {
		return nil, nil, 0, err
	}
	return sc, focus, capped, nil
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
