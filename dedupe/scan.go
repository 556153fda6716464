package dedupe

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/matcher"
	"github.com/google/uuid"
)

// ScanStats are a full scan's statistics, the run's output.
type ScanStats struct {
	Contacts       int     `json:"contacts"`
	Records        int     `json:"records"` // contacts plus alternate variants
	CandidatePairs int64   `json:"candidatePairs"`
	BlocksCapped   int     `json:"blocksCapped"` // oversized blocks compared in a window, not all-to-all
	CappedRecords  int     `json:"recordsInCappedBlocks"`
	Clusters       int     `json:"clusters"`
	Merges         int     `json:"merges"`
	ContactsMerged int     `json:"contactsMerged"`
	ReviewsOpened  int     `json:"reviewsOpened"`
	Dismissed      int     `json:"dismissedPairsHonoured"`
	ModelVersion   int     `json:"modelVersion"`
	LoadSeconds    float64 `json:"loadSeconds"`
	ScoreSeconds   float64 `json:"scoreSeconds"`
	WriteSeconds   float64 `json:"writeSeconds"`
}

// Progress receives a scan's statistics as it goes.
type Progress func(stage string, stats ScanStats)

// BulkMergeFunc merges many disjoint clusters at once, as the store's MergeClusters does,
// recording the model version and score of each request. It returns, by position in reqs, the
// requests it could not merge and why; one bad cluster never fails the others.
type BulkMergeFunc func(ctx context.Context, reqs []contact.MergeRequest) (failed map[int]error, err error)

// bulkChunk is how many clusters a scan hands to a BulkMergeFunc at once, and bulkWorkers how
// many such chunks are merged at once.
const (
	bulkChunk   = 500
	bulkWorkers = 3
)

// progressEvery is how many merges a scan makes between two progress reports.
const progressEvery = 10000

// Scan scores every candidate pair of the active contacts with the same blocking keys the
// per-contact check uses, clusters the sure pairs (with the anti-chaining guard), merges the
// clusters in chunks with bulk (many per transaction), and proposes the possible pairs for
// review. A nil bulk only proposes.
func (e *Engine) Scan(ctx context.Context, bulk BulkMergeFunc, progress Progress) (ScanStats, error) {
	return e.scan(ctx, bulk, progress)
}

// mergeJob is a cluster a scan merges.
type mergeJob struct {
	ids   []uuid.UUID
	score float64
}

func (e *Engine) scan(ctx context.Context, bulk BulkMergeFunc, progress Progress) (ScanStats, error) {
	var st ScanStats
	merging := bulk != nil
	if progress == nil {
		progress = func(string, ScanStats) {}
	}
	md, version, err := e.Model(ctx)
	if err != nil {
		return st, err
	}
	st.ModelVersion = version
	m := md.Matcher()
	start := time.Now()

	// Load: one record per contact, plus one per alternate email or phone.
	var contacts []contact.MatchContact
	var recs []*matcher.Prepared
	var owner []int32 // record → contact index
	err = e.Store.ScanActive(ctx, 10000, func(page []contact.MatchContact) error {
		for _, c := range page {
			ci := int32(len(contacts))
			contacts = append(contacts, c)
			for _, r := range contact.MatchRecords(c.Contact, c.Alternates) {
				recs = append(recs, m.Prepare(r))
				owner = append(owner, ci)
			}
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	st.Contacts, st.Records = len(contacts), len(recs)
	st.LoadSeconds = time.Since(start).Seconds()
	progress("loaded", st)

	// Score every candidate pair on all cores.
	start = time.Now()
	res, err := md.Dedupe(ctx, recs, matcher.ScanOptions{SkipClustering: true})
	if err != nil {
		return st, err
	}
	st.CandidatePairs = res.Blocking.CandidatePairs
	for _, r := range res.Blocking.Rules {
		st.BlocksCapped += r.Oversized
		st.CappedRecords += r.OversizedRecords
	}

	// Contact-level edges: the best record pair of each contact pair.
	best := map[[2]int32]float32{}
	for _, ed := range res.Edges {
		a, b := owner[ed.A], owner[ed.B]
		if a == b {
			continue
		}
		if a > b {
			a, b = b, a
		}
		if w, ok := best[[2]int32{a, b}]; !ok || ed.Weight > w {
			best[[2]int32{a, b}] = ed.Weight
		}
	}
	edges := make([]matcher.Edge, 0, len(best))
	for k, w := range best {
		edges = append(edges, matcher.Edge{A: k[0], B: k[1], Weight: w})
	}
	main := make([]*matcher.Prepared, len(contacts))
	for i := len(recs) - 1; i >= 0; i-- {
		main[owner[i]] = recs[i] // the first record of each contact is its own
	}
	clusters := md.Cluster(main, edges, md.ClusterOptions(nil))
	st.ScoreSeconds = time.Since(start).Seconds()
	progress("scored", st)

	// Write: merge each cluster, propose the possible pairs that did not end in one cluster.
	start = time.Now()
	groups := map[int32][]int32{}
	for i, c := range clusters {
		groups[c] = append(groups[c], int32(i))
	}
	_, possible, _ := md.Thresholds()
	same, _, _ := md.Thresholds()
	var multi [][]int32
	for _, g := range groups {
		if len(g) >= 2 {
			multi = append(multi, g)
		}
	}
	allowed, err := e.noDismissedPairs(ctx, contacts, multi)
	if err != nil {
		return st, err
	}
	var jobs []mergeJob
	for k, g := range multi {
		st.Clusters++
		if !allowed[k] || !merging {
			st.Dismissed++
			continue
		}
		ids := make([]uuid.UUID, len(g))
		minW := math.Inf(1)
		for i, ci := range g {
			ids[i] = contacts[ci].ID
			for _, cj := range g[i+1:] {
				a, b := min(ci, cj), max(ci, cj)
				if w, ok := best[[2]int32{a, b}]; ok && float64(w) >= same {
					minW = math.Min(minW, float64(w))
				}
			}
		}
		jobs = append(jobs, mergeJob{ids, matcher.Probability(minW)})
	}
	if bulk != nil {
		err = e.mergeBulk(ctx, bulk, jobs, version, &st, progress)
	}
	if err != nil {
		return st, err
	}
	var pending []contact.ReviewProposal
	flush := func() error {
		n, err := e.Store.ProposeReviews(ctx, pending)
		st.ReviewsOpened += n
		pending = pending[:0]
		return err
	}
	for _, ed := range edges {
		if float64(ed.Weight) < possible || (clusters[ed.A] == clusters[ed.B] && merging) {
			continue
		}
		a, b := contacts[ed.A], contacts[ed.B]
		pending = append(pending, contact.ReviewProposal{
			A: a.ID, B: b.ID, Score: matcher.Probability(float64(ed.Weight)), Explanation: md.Explain(main[ed.A], main[ed.B]),
			ModelVersion: versionPtr(version), FingerprintA: contact.Fingerprint(a.Contact), FingerprintB: contact.Fingerprint(b.Contact),
		})
		if len(pending) >= reviewFlush {
			if err := flush(); err != nil {
				return st, err
			}
		}
	}
	if err := flush(); err != nil {
		return st, err
	}
	st.WriteSeconds = time.Since(start).Seconds()
	progress("done", st)
	runtime.KeepAlive(recs)
	return st, nil
}

// mergeBulk merges the clusters in chunks of bulkChunk, bulkWorkers chunks at once: clusters
// are disjoint, so the chunks' transactions never wait on each other's contacts.
func (e *Engine) mergeBulk(ctx context.Context, bulk BulkMergeFunc, jobs []mergeJob, version int, st *ScanStats, progress Progress) error {
	var (
		mu       sync.Mutex
		firstErr error
		next     int
		wg       sync.WaitGroup
	)
	for range bulkWorkers {
		wg.Go(func() {
			for {
				mu.Lock()
				if next >= len(jobs) || firstErr != nil {
					mu.Unlock()
					return
				}
				chunk := jobs[next:min(next+bulkChunk, len(jobs))]
				next += len(chunk)
				mu.Unlock()
				reqs := make([]contact.MergeRequest, len(chunk))
				for i, j := range chunk {
					reqs[i] = contact.MergeRequest{ContactIDs: j.ids, ModelVersion: versionPtr(version), Score: &j.score}
				}
				failed, err := bulk(ctx, reqs)
				mu.Lock()
				if err != nil {
					// What merged of the chunk is unknown; the scan stops.
					firstErr = cmp.Or(firstErr, fmt.Errorf("dedupe: merge clusters: %w", err))
					mu.Unlock()
					return
				}
				before := st.Merges
				for i, j := range chunk {
					switch ferr, bad := failed[i]; {
					case !bad:
						st.Merges++
						st.ContactsMerged += len(j.ids)
					case !skippable(ferr):
						firstErr = cmp.Or(firstErr, fmt.Errorf("dedupe: merge cluster: %w", ferr))
					}
				}
				if st.Merges/progressEvery != before/progressEvery {
					progress("merging", *st)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return firstErr
}

// skippable reports whether a cluster's merge failed because a contact changed or was merged
// meanwhile: its own check handles it.
func skippable(err error) bool {
	k := contact.ErrorKind(err)
	return k == contact.KindInvalid || k == contact.KindConflict
}

// noDismissedPairs reports, for each group, whether no pair of it was dismissed by a person
// (with neither contact changed since), reading the dismissals once.
func (e *Engine) noDismissedPairs(ctx context.Context, contacts []contact.MatchContact, groups [][]int32) ([]bool, error) {
	dismissed, err := e.Store.Dismissals(ctx, nil)
	if err != nil {
		return nil, err
	}
	out := make([]bool, len(groups))
	for k, g := range groups {
		out[k] = true
		if len(dismissed) == 0 {
			continue
		}
	pairs:
		for i, ci := range g {
			for _, cj := range g[i+1:] {
				a, b := contacts[ci], contacts[cj]
				if dismissed.Has(contact.ReviewProposal{A: a.ID, B: b.ID,
					FingerprintA: contact.Fingerprint(a.Contact), FingerprintB: contact.Fingerprint(b.Contact)}) {
					out[k] = false
					break pairs
				}
			}
		}
	}
	return out, nil
}

// Train estimates a new model on the active contacts and stores it as the newest version.
func (e *Engine) Train(ctx context.Context) (int, error) {
	m := contact.Matcher()
	var recs []*matcher.Prepared
	err := e.Store.ScanActive(ctx, 10000, func(page []contact.MatchContact) error {
		for _, c := range page {
			recs = append(recs, m.Prepare(c.MatchRecord()))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if len(recs) < 100 {
		return 0, &contact.Error{Kind: contact.KindInvalid, Message: fmt.Sprintf("training needs at least 100 active contacts (have %d)", len(recs))}
	}
	start := time.Now()
	md, err := m.Train(ctx, recs)
	if err != nil {
		return 0, fmt.Errorf("dedupe: train: %w", err)
	}
	data, err := md.MarshalJSON()
	if err != nil {
		return 0, err
	}
	v, err := e.Store.SaveModel(ctx, data, map[string]any{"contacts": len(recs), "seconds": time.Since(start).Seconds()})
	if err != nil {
		return 0, err
	}
	e.mu.Lock()
	e.checkedAt = time.Time{}
	e.mu.Unlock()
	return v, nil
}
