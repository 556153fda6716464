package matcher

// Metrics are pairwise precision, recall and F1: a pair of records counts
// as predicted when both end in the same cluster, and as true when the
// labels say they are the same entity.
type Metrics struct {
	Precision      float64 `json:"precision"`      // TruePositives / PredictedPairs
	Recall         float64 `json:"recall"`         // TruePositives / TruePairs
	F1             float64 `json:"f1"`             // harmonic mean of precision and recall
	TruePositives  int64   `json:"truePositives"`  // predicted pairs that are true
	PredictedPairs int64   `json:"predictedPairs"` // pairs in a common cluster
	TruePairs      int64   `json:"truePairs"`      // pairs of a common entity
}

// Evaluate compares clusters (one cluster number per record) with truth
// (one entity number per record). Labels serve only to evaluate. With
// source set (linkage), only pairs across data sets count.
func Evaluate(clusters, truth []int32, source []uint8) Metrics {
	type key struct{ c, t int32 }
	var m Metrics
	if source == nil {
		byCluster := map[int32]int64{}
		byTruth := map[int32]int64{}
		byBoth := map[key]int64{}
		for i := range clusters {
			byCluster[clusters[i]]++
			byTruth[truth[i]]++
			byBoth[key{clusters[i], truth[i]}]++
		}
		pairs := func(n int64) int64 { return n * (n - 1) / 2 }
		for _, n := range byCluster {
			m.PredictedPairs += pairs(n)
		}
		for _, n := range byTruth {
			m.TruePairs += pairs(n)
		}
		for _, n := range byBoth {
			m.TruePositives += pairs(n)
		}
	} else {
		// Count left × right per group.
		type lr struct{ l, r int64 }
		byCluster := map[int32]*lr{}
		byTruth := map[int32]*lr{}
		byBoth := map[key]*lr{}
		inc := func(p *lr, s uint8) {
			if s == 0 {
				p.l++
			} else {
				p.r++
			}
		}
		get := func(m map[int32]*lr, k int32) *lr {
			if p, ok := m[k]; ok {
				return p
			}
			p := &lr{}
			m[k] = p
			return p
		}
		for i := range clusters {
			inc(get(byCluster, clusters[i]), source[i])
			inc(get(byTruth, truth[i]), source[i])
			k := key{clusters[i], truth[i]}
			p, ok := byBoth[k]
			if !ok {
				p = &lr{}
				byBoth[k] = p
			}
			inc(p, source[i])
		}
		for _, p := range byCluster {
			m.PredictedPairs += p.l * p.r
		}
		for _, p := range byTruth {
			m.TruePairs += p.l * p.r
		}
		for _, p := range byBoth {
			m.TruePositives += p.l * p.r
		}
	}
	if m.PredictedPairs > 0 {
		m.Precision = float64(m.TruePositives) / float64(m.PredictedPairs)
	}
	if m.TruePairs > 0 {
		m.Recall = float64(m.TruePositives) / float64(m.TruePairs)
	}
	if m.Precision+m.Recall > 0 {
		m.F1 = 2 * m.Precision * m.Recall / (m.Precision + m.Recall)
	}
	return m
}
