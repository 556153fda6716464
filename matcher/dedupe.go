package matcher

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
)

// Result is the outcome of a full scan.
type Result struct {
	// Edges are the candidate pairs scoring at least MinWeight, sorted by
	// (A, B). In linkage, indexes at or above the left length are right
	// records.
	Edges []Edge
	// Clusters holds the cluster number of each record (see Cluster),
	// built from the edges at or above the Same threshold.
	Clusters []int32
	// Blocking describes the candidate pairs.
	Blocking BlockingStats
}

// ScanOptions tune Dedupe and Link.
type ScanOptions struct {
	// MinWeight is the lowest weight kept in Result.Edges; zero keeps
	// the Possible threshold. Use a low value to sweep thresholds.
	MinWeight float64
	// KeepAll keeps every candidate pair whatever MinWeight says.
	KeepAll bool
	// SkipClustering leaves Result.Clusters nil, for callers that cluster
	// themselves (see Cluster).
	SkipClustering bool
	// Focus, when set (one entry per record), limits the scan to the
	// candidate pairs with at least one focus record: new records checked
	// against records already checked among themselves. Blocks and windows
	// are formed over all the records, as without it.
	Focus []bool
}

// Dedupe compares all candidate pairs of recs on all cores, keeps the
// edges worth reviewing and clusters the auto-merge edges.
func (md *Model) Dedupe(ctx context.Context, recs []*Prepared, opt ScanOptions) (*Result, error) {
	return md.scan(ctx, recs, nil, opt)
}

// Link compares the candidate pairs across left and right (each assumed
// free of duplicates) and clusters them one to one. Record indexes in the
// result count left first, then right.
func (md *Model) Link(ctx context.Context, left, right []*Prepared, opt ScanOptions) (*Result, error) {
	recs, source := concatSources(left, right)
	return md.scan(ctx, recs, source, opt)
}

func (md *Model) scan(ctx context.Context, recs []*Prepared, source []uint8, opt ScanOptions) (*Result, error) {
	minW := md.possib
	if opt.MinWeight != 0 {
		minW = opt.MinWeight
	}
	sc, err := md.m.newScanner(ctx, recs, source)
	if err != nil {
		return nil, err
	}
	if opt.Focus != nil {
		if len(opt.Focus) != len(recs) {
			return nil, fmt.Errorf("matcher: %d focus flags for %d records", len(opt.Focus), len(recs))
		}
		sc.focus = opt.Focus
	}
	workers := runtime.GOMAXPROCS(0)
	local := make([][]Edge, workers)
	var mu sync.Mutex
	var all []Edge
	err = sc.run(ctx, func(w int, i, j int32) {
		s := md.Score(recs[i], recs[j])
		if !opt.KeepAll && s < minW {
			return
		}
		local[w] = append(local[w], Edge{A: i, B: j, Weight: float32(s)})
		if len(local[w]) >= 1<<16 {
			mu.Lock()
			all = append(all, local[w]...)
			mu.Unlock()
			local[w] = local[w][:0]
		}
	})
	if err != nil {
		return nil, err
	}
	for _, l := range local {
		all = append(all, l...)
	}
	slices.SortFunc(all, func(a, b Edge) int { return cmp.Or(cmp.Compare(a.A, b.A), cmp.Compare(a.B, b.B)) })
	all = slices.CompactFunc(all, func(a, b Edge) bool { return a.A == b.A && a.B == b.B })
	res := &Result{Edges: all, Blocking: sc.stats}
	if !opt.SkipClustering {
		res.Clusters = md.Cluster(recs, all, md.ClusterOptions(source))
	}
	return res, nil
}

// ClusterOptions returns the clustering options at the model's thresholds;
// source is nil for deduplication.
func (md *Model) ClusterOptions(source []uint8) ClusterOptions {
	return ClusterOptions{Threshold: md.same, Conflict: md.confl, Source: source}
}

// Thresholds returns the model's Same, Possible and Conflict thresholds
// as match weights in bits.
func (md *Model) Thresholds() (same, possible, conflict float64) {
	return md.same, md.possib, md.confl
}
