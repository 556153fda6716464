package matcher

import (
	"cmp"
	"slices"
)

// Edge is a scored candidate pair.
type Edge struct {
	A, B   int32   // record indexes, A < B
	Weight float32 // match weight in bits
}

// ClusterOptions control clustering.
type ClusterOptions struct {
	// Threshold is the minimum edge weight that merges two clusters.
	Threshold float64
	// Conflict is the weight below which two records clearly differ; two
	// clusters are never merged when any of their cross pairs scores
	// below it (anti-chaining guard). Use math.Inf(-1) to disable.
	Conflict float64
	// MaxSize caps a cluster's size; 0 means 100.
	MaxSize int
	// Source, when set, marks each record's data set and keeps at most one
	// record per data set in a cluster (one-to-one linkage).
	Source []uint8
	// Joined, when set (one entry per record), puts each record i with
	// Joined[i] >= 0 in one cluster with record Joined[i] before any edge
	// is weighed: records that are one person already (a contact and the
	// contacts merged into it). Their own pairs are not checked for
	// conflicts, but every later merge checks them against the other side.
	Joined []int32
}

// Cluster groups records connected by edges at or above the threshold,
// strongest edges first. Before two clusters merge, every cross pair is
// scored and the merge is refused when one clearly differs (so A~B and B~C
// do not put A with C when A and C conflict). It returns the cluster
// number of each of the n records; clusters are numbered by their smallest
// record index, and singletons are their own cluster.
func (md *Model) Cluster(recs []*Prepared, edges []Edge, opt ClusterOptions) []int32 {
	n := len(recs)
	maxSize := cmp.Or(opt.MaxSize, 100)
	parent := make([]int32, n)
	members := make([][]int32, n)
	for i := range parent {
		parent[i] = int32(i)
	}
	find := func(x int32) int32 {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	sorted := make([]Edge, 0, len(edges))
	for _, e := range edges {
		if float64(e.Weight) >= opt.Threshold {
			sorted = append(sorted, e)
		}
	}
	slices.SortFunc(sorted, func(a, b Edge) int {
		return cmp.Or(cmp.Compare(b.Weight, a.Weight), cmp.Compare(a.A, b.A), cmp.Compare(a.B, b.B))
	})
	membersOf := func(r int32) []int32 {
		if members[r] == nil {
			return []int32{r}
		}
		return members[r]
	}
	for i, j := range opt.Joined {
		if j < 0 || int(j) == i || int(j) >= n {
			continue
		}
		ra, rb := find(int32(i)), find(j)
		if ra == rb {
			continue
		}
		ma, mb := membersOf(ra), membersOf(rb)
		if len(ma) < len(mb) {
			ra, rb, ma, mb = rb, ra, mb, ma
		}
		parent[rb] = ra
		members[ra] = append(ma[:len(ma):len(ma)], mb...)
		members[rb] = nil
	}
	for _, e := range sorted {
		ra, rb := find(e.A), find(e.B)
		if ra == rb {
			continue
		}
		ma, mb := membersOf(ra), membersOf(rb)
		if len(ma)+len(mb) > maxSize || md.conflicts(recs, ma, mb, opt) {
			continue
		}
		if len(ma) < len(mb) {
			ra, rb, ma, mb = rb, ra, mb, ma
		}
		parent[rb] = ra
		members[ra] = append(ma[:len(ma):len(ma)], mb...)
		members[rb] = nil
	}
	out := make([]int32, n)
	for i := range out {
		out[i] = -1
	}
	for i := range n {
		r := find(int32(i))
		if out[r] < 0 {
			out[r] = int32(i)
		}
		out[i] = out[r]
	}
	return out
}

// conflicts reports whether two clusters may not merge.
func (md *Model) conflicts(recs []*Prepared, a, b []int32, opt ClusterOptions) bool {
	if len(a) == 1 && len(b) == 1 && opt.Source == nil {
		return false // the edge itself joins them
	}
	// Large clusters are checked through their first members only.
	const maxCheck = 48
	for _, x := range a[:min(len(a), maxCheck)] {
		for _, y := range b[:min(len(b), maxCheck)] {
			if opt.Source != nil && opt.Source[x] == opt.Source[y] {
				return true
			}
			if md.Score(recs[x], recs[y]) < opt.Conflict {
				return true
			}
		}
	}
	return false
}
