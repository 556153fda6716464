package dedupe

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
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
	TrainSeconds   float64 `json:"trainSeconds,omitempty"`  // a retraining was due first (RetrainReason)
	RetrainReason  string  `json:"retrainReason,omitempty"` // why
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

// Scan retrains the model first when RetrainDue says so, then scores every candidate pair of
// the active contacts with the same blocking keys the per-contact check uses, clusters the sure pairs (with the anti-chaining guard), merges the
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

// scanned is what a scan has read and scored: the contacts, their prepared records (a
// contact's own first, then one per alternate), and the best weight of each contact pair.
type scanned struct {
	contacts []contact.MatchContact
	recs     []*matcher.Prepared
	owner    []int32              // record → contact index
	first    []int32              // contact index → its first record (a batch check's)
	main     []*matcher.Prepared  // contact index → its own record
	best     map[[2]int32]float32 // the best record pair of each contact pair
	edges    []matcher.Edge       // the same, as edges between contacts
	clusters []int32              // contact index → cluster
	// merged are the records of the contacts merged into the contacts (a scan and a batch
	// check read them), each in the cluster of contact mergedInto: a clustering keeps them free of
	// conflicts too.
	merged     []*matcher.Prepared
	mergedInto []int32
	// batchCreated is when each contact a batch check was given was created, whatever its
	// status now.
	batchCreated []time.Time
}

// ids returns the ids of the contacts.
func (sc *scanned) ids() []uuid.UUID {
	ids := make([]uuid.UUID, len(sc.contacts))
	for i, c := range sc.contacts {
		ids[i] = c.ID
	}
	return ids
}

func (e *Engine) scan(ctx context.Context, progress Progress) (ScanStats, error) {
	var st ScanStats
	if progress == nil {
		progress = func(string, ScanStats) {}
	}
	// A scan is when the model matters most: when the contacts have outgrown it, retrain first.
	if e.Merger != nil {
		start := time.Now()
		reason, err := e.retrainNowIfDue(ctx)
		if err != nil {
			return st, err
		}
		if reason != "" {
			st.RetrainReason = reason
			st.TrainSeconds = time.Since(start).Seconds()
			progress("trained", st)
		}
	}
	md, version, err := e.Model(ctx)
	if err != nil {
		return st, err
	}
	st.ModelVersion = version
	start := time.Now()
	sc, err := e.load(ctx, md)
	if err != nil {
		return st, err
	}
	st.Contacts, st.Records = len(sc.contacts), len(sc.recs)
	st.LoadSeconds = time.Since(start).Seconds()
	progress("loaded", st)

	start = time.Now()
	if err := sc.score(ctx, md, &st, nil); err != nil {
		return st, err
	}
	st.ScoreSeconds = time.Since(start).Seconds()
	progress("scored", st)

	// Write: merge each cluster, propose the possible pairs that did not end in one cluster.
	start = time.Now()
	dismissed, err := e.Store.Dismissals(ctx, nil)
	if err != nil {
		return st, err
	}
	jobs, err := e.mergeJobs(md, sc, &st, dismissed)
	if err != nil {
		return st, err
	}
	if e.Merger != nil {
		if err := e.mergeBulk(ctx, jobs, version, &st, progress); err != nil {
			return st, err
		}
	}
	if err := e.proposeScanned(ctx, md, sc, version, &st); err != nil {
		return st, err
	}
	st.WriteSeconds = time.Since(start).Seconds()
	progress("done", st)
	runtime.KeepAlive(sc.recs)
	return st, nil
}

// load reads every active contact with its alternates and prepares one record per contact,
// plus one per alternate email or phone.
func (e *Engine) load(ctx context.Context, md *matcher.Model) (*scanned, error) {
	m := md.Matcher()
	sc := &scanned{}
	err := e.Contacts.ScanActive(ctx, 10000, func(page []contact.MatchContact) error {
		for _, c := range page {
			ci := int32(len(sc.contacts))
			sc.contacts = append(sc.contacts, c)
			for _, r := range MatchRecords(c.Contact, c.Alternates) {
				sc.recs = append(sc.recs, m.Prepare(r))
				sc.owner = append(sc.owner, ci)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return sc, sc.loadMerged(ctx, e.Contacts, m)
}

// mergedPage is how many contacts' merged members one query reads.
const mergedPage = 10000

// loadMerged reads the contacts merged into the loaded contacts, each pre-joined to the cluster
// of the contact that holds it, so that a scan, like a batch check, never merges into a
// survivor a contact that clearly differs from one merged into it before.
func (sc *scanned) loadMerged(ctx context.Context, contacts Contacts, m *matcher.Matcher) error {
	ids := sc.ids()
	index := make(map[uuid.UUID]int32, len(ids))
	for i, id := range ids {
		index[id] = int32(i)
	}
	for from := 0; from < len(ids); from += mergedPage {
		merged, err := contacts.MergedMembers(ctx, ids[from:min(from+mergedPage, len(ids))])
		if err != nil {
			return err
		}
		for _, id := range ids[from:min(from+mergedPage, len(ids))] {
			for _, mc := range merged[id] {
				sc.merged = append(sc.merged, m.Prepare(MatchRecord(mc)))
				sc.mergedInto = append(sc.mergedInto, index[id])
			}
		}
	}
	return nil
}

// score scores every candidate pair of records on all cores (with focus, only the pairs with a
// focus record), keeps the best pair of each pair of contacts and clusters the contacts.
func (sc *scanned) score(ctx context.Context, md *matcher.Model, st *ScanStats, focus []bool) error {
	res, err := md.Dedupe(ctx, sc.recs, matcher.ScanOptions{SkipClustering: true, Focus: focus})
	if err != nil {
		return err
	}
	st.CandidatePairs = res.Blocking.CandidatePairs
	for _, r := range res.Blocking.Rules {
		st.BlocksCapped += r.Oversized
		st.CappedRecords += r.OversizedRecords
	}
	sc.best = map[[2]int32]float32{}
	for _, ed := range res.Edges {
		a, b := sc.owner[ed.A], sc.owner[ed.B]
		if a == b {
			continue
		}
		if a > b {
			a, b = b, a
		}
		if w, ok := sc.best[[2]int32{a, b}]; !ok || ed.Weight > w {
			sc.best[[2]int32{a, b}] = ed.Weight
		}
	}
	sc.edges = make([]matcher.Edge, 0, len(sc.best))
	for k, w := range sc.best {
		sc.edges = append(sc.edges, matcher.Edge{A: k[0], B: k[1], Weight: w})
	}
	sc.main = make([]*matcher.Prepared, len(sc.contacts))
	for i := len(sc.recs) - 1; i >= 0; i-- {
		sc.main[sc.owner[i]] = sc.recs[i] // the first record of each contact is its own
	}
	recs, opt := sc.main, md.ClusterOptions(nil)
	if len(sc.merged) > 0 {
		recs = append(slices.Clone(sc.main), sc.merged...)
		opt.Joined = make([]int32, len(recs))
		for i := range sc.main {
			opt.Joined[i] = -1
		}
		copy(opt.Joined[len(sc.main):], sc.mergedInto)
	}
	sc.clusters = md.Cluster(recs, sc.edges, opt)[:len(sc.main)]
	return nil
}

// mergeJobs counts the clusters of two or more contacts and returns those to merge: none a
// person dismissed a pair of, each with the probability of its weakest sure pair. Without a
// Merger it returns none.
func (e *Engine) mergeJobs(md *matcher.Model, sc *scanned, st *ScanStats, dismissed Dismissals) ([]mergeJob, error) {
	groups := map[int32][]int32{}
	for i, c := range sc.clusters {
		groups[c] = append(groups[c], int32(i))
	}
	var multi [][]int32
	for _, g := range groups {
		if len(g) >= 2 {
			multi = append(multi, g)
		}
	}
	allowed := noDismissedPairs(dismissed, sc.contacts, multi)
	same, _, _ := md.Thresholds()
	var jobs []mergeJob
	for k, g := range multi {
		st.Clusters++
		if !allowed[k] {
			st.Dismissed++
			continue
		}
		if e.Merger == nil {
			continue
		}
		ids := make([]uuid.UUID, len(g))
		minW := math.Inf(1)
		for i, ci := range g {
			ids[i] = sc.contacts[ci].ID
			for _, cj := range g[i+1:] {
				a, b := min(ci, cj), max(ci, cj)
				if w, ok := sc.best[[2]int32{a, b}]; ok && float64(w) >= same {
					minW = math.Min(minW, float64(w))
				}
			}
		}
		jobs = append(jobs, mergeJob{ids, matcher.Probability(minW)})
	}
	return jobs, nil
}

// proposeScanned proposes for review every possible pair that was not merged into one
// cluster (with no Merger, every possible pair).
func (e *Engine) proposeScanned(ctx context.Context, md *matcher.Model, sc *scanned, version int, st *ScanStats) error {
	_, possible, _ := md.Thresholds()
	var pending []ReviewProposal
	flush := func() error {
		n, err := e.Store.ProposeReviews(ctx, pending)
		st.ReviewsOpened += n
		pending = pending[:0]
		return err
	}
	for _, ed := range sc.edges {
		if float64(ed.Weight) < possible || (sc.clusters[ed.A] == sc.clusters[ed.B] && e.Merger != nil) {
			continue
		}
		a, b := sc.contacts[ed.A], sc.contacts[ed.B]
		pending = append(pending, ReviewProposal{
			A: a.ID, B: b.ID, Score: matcher.Probability(float64(ed.Weight)), Explanation: md.Explain(sc.main[ed.A], sc.main[ed.B]),
			ModelVersion: versionPtr(version), FingerprintA: Fingerprint(a.Contact), FingerprintB: Fingerprint(b.Contact),
		})
		if len(pending) >= reviewFlush {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
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
// (with neither contact changed since).
func noDismissedPairs(dismissed Dismissals, contacts []contact.MatchContact, groups [][]int32) []bool {
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
	return out
}
