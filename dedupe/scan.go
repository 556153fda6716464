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
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/matcher"
	"github.com/contactd/contactd/merge"
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

// bulkChunk is how many clusters a scan hands to the Merger's MergeClusters at once, and bulkWorkers how
// many such chunks are merged at once.
const (
	bulkChunk   = 500
	bulkWorkers = 3
)

// progressEvery is how many merges a scan makes between two progress reports.
const progressEvery = 10000

// Scan scores every candidate pair of the active contacts with the same blocking keys the
// per-contact check uses, clusters the sure pairs (with the anti-chaining guard), merges the
// clusters in chunks with the Merger's MergeClusters (many per transaction), and proposes the
// possible pairs for review. Without a Merger it only proposes: the pairs of each cluster too.
// It does not record a run: RunScan does, and keeps scans to one at a time.
func (e *Engine) Scan(ctx context.Context, progress Progress) (ScanStats, error) {
	return e.scan(ctx, progress)
}

// mergeJob is a cluster a scan merges.
type mergeJob struct {
	ids   []uuid.UUID
	score float64
}

func (e *Engine) scan(ctx context.Context, progress Progress) (ScanStats, error) {
	var st ScanStats
	merging := e.Merger != nil
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
	err = e.Contacts.ScanActive(ctx, 10000, func(page []contact.MatchContact) error {
		for _, c := range page {
			ci := int32(len(contacts))
			contacts = append(contacts, c)
			for _, r := range MatchRecords(c.Contact, c.Alternates) {
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
		if !allowed[k] {
			st.Dismissed++
			continue
		}
		if !merging {
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
	if merging {
		err = e.mergeBulk(ctx, jobs, version, &st, progress)
	}
	if err != nil {
		return st, err
	}
	var pending []ReviewProposal
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
		pending = append(pending, ReviewProposal{
			A: a.ID, B: b.ID, Score: matcher.Probability(float64(ed.Weight)), Explanation: md.Explain(main[ed.A], main[ed.B]),
			ModelVersion: versionPtr(version), FingerprintA: Fingerprint(a.Contact), FingerprintB: Fingerprint(b.Contact),
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
func (e *Engine) mergeBulk(ctx context.Context, jobs []mergeJob, version int, st *ScanStats, progress Progress) error {
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
				reqs := make([]merge.Request, len(chunk))
				for i, j := range chunk {
					reqs[i] = merge.Request{ContactIDs: j.ids, ModelVersion: versionPtr(version), Score: &j.score}
				}
				_, failed, err := e.Merger.MergeClusters(ctx, reqs)
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
	k := db.ErrorKind(err)
	return k == db.KindInvalid || k == db.KindConflict
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
				if dismissed.Has(ReviewProposal{A: a.ID, B: b.ID,
					FingerprintA: Fingerprint(a.Contact), FingerprintB: Fingerprint(b.Contact)}) {
					out[k] = false
					break pairs
				}
			}
		}
	}
	return out, nil
}
