package matcher

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
)

// Train estimates a model from unlabelled records (dedupe: duplicates
// within recs). u probabilities come from random pairs, m probabilities
// and the prior from EM over the blocked candidate pairs, with u fixed.
// Training is deterministic for given records and Settings.Training.Seed.
func (m *Matcher) Train(ctx context.Context, recs []*Prepared) (*Model, error) {
	return m.train(ctx, recs, nil)
}

// TrainLink estimates a model for linking two data sets, each assumed free
// of duplicates: only pairs across left and right are considered.
func (m *Matcher) TrainLink(ctx context.Context, left, right []*Prepared) (*Model, error) {
	recs, source := concatSources(left, right)
	return m.train(ctx, recs, source)
}

func concatSources(left, right []*Prepared) ([]*Prepared, []uint8) {
	recs := make([]*Prepared, 0, len(left)+len(right))
	recs = append(append(recs, left...), right...)
	source := make([]uint8, len(recs))
	for i := len(left); i < len(recs); i++ {
		source[i] = 1
	}
	return recs, source
}

func (m *Matcher) train(ctx context.Context, recs []*Prepared, source []uint8) (*Model, error) {
	if len(recs) < 2 {
		return nil, fmt.Errorf("matcher: train: need at least two records, have %d", len(recs))
	}
	p := ModelParams{Version: modelVersion, Settings: m.settings}
	p.Training.Records = len(recs)
	u, samples := m.estimateU(recs, source)
	p.Training.USamples = samples
	uName := m.estimateNameLocalU(recs, source)
	sc, err := m.newScanner(ctx, recs, source)
	if err != nil {
		return nil, err
	}
	if limit := int64(m.settings.Training.MaxPairs); sc.estimate > limit {
		sc.sample = uint64((sc.estimate + limit - 1) / limit)
	}
	hists, err := m.patternHistograms(ctx, sc)
	if err != nil {
		return nil, err
	}
	p.Training.CandidatePairs = sc.stats.CandidatePairs
	for _, h := range hists {
		p.Training.Patterns += len(h)
	}
	// One session per blocking rule gives m estimates that the fields
	// forced to agree by blocking do not distort; a final EM over all
	// candidate pairs, started from them, refines m and finds the share
	// of matches.
	all := hists[len(hists)-1]
	mprob, iters, converged := m.emSessions(hists[:len(hists)-1], u)
	var none [maxFields]bool
	refined, lambda, it, conv := m.em(all, u, &none, mprob, false)
	if maxShift(mprob, refined) > maxRefineShift {
		// The global EM wandered off to another explanation of the
		// candidates (typically colleagues sharing a company and its
		// switchboard); keep the session estimates and fit the prior only.
		refined, lambda, it, conv = m.em(all, u, &none, mprob, true)
	}
	mprob = refined
	iters += it
	converged = converged && conv
	// Scoring uses u from random pairs, so the prior is that of a random
	// pair: the expected matches over all pairs.
	candidates := float64(sc.stats.CandidatePairs) * float64(max(sc.sample, 1))
	p.Lambda = min(max(lambda*candidates/allPairs(len(recs), source), 1e-12), 0.5)
	p.Training.Iterations, p.Training.Converged = iters, converged
	tfs := m.termFrequencies(recs)
	for i, f := range m.fields {
		fp := FieldParams{Name: f.Name, TermFrequencies: tfs[i]}
		for k := 1; k <= len(f.levels)+1; k++ {
			name := "else"
			if k <= len(f.levels) {
				name = f.levels[k-1].Label()
			}
			lp := LevelParams{Name: name, M: mprob[i][k], U: u[i][k]}
			if k <= len(f.levels) && f.levels[k-1].Kind == "emailNameLocal" {
				lp.U = uName
			}
			if k <= len(f.levels) && f.levels[k-1].Kind == "emailNameVariant" {
				// The local parts differ as the names do: the name levels weigh that
				// difference already, so the level weighs nothing (see Level.Kind).
				lp.U = lp.M
			}
			fp.Levels = append(fp.Levels, lp)
		}
		p.Fields = append(p.Fields, fp)
	}
	p.FullNames = m.fullNameFrequencies(recs)
	return newModel(m, p)
}

// estimateU compares random pairs and returns, per field and gamma, the
// share of non-missing comparisons at each level. All pairs are compared
// when there are fewer than Settings.Training.USamples.
func (m *Matcher) estimateU(recs []*Prepared, source []uint8) ([][]float64, int64) {
	n := len(recs)
	want := int64(m.settings.Training.USamples)
	counts := make([][]int64, len(m.fields))
	for i := range counts {
		counts[i] = make([]int64, len(m.fields[i].levels)+2)
	}
	add := func(c comparison) {
		for i := range m.fields {
			counts[i][c[i]]++
		}
	}
	var total int64
	if int64(n)*int64(n-1)/2 <= want {
		for i := 0; i < n; i++ {
			for j := i + 1; j < n; j++ {
				if source == nil || source[i] != source[j] {
					add(m.compare(recs[i], recs[j]))
					total++
				}
			}
		}
	} else {
		rng := rand.New(rand.NewPCG(m.settings.Training.Seed, 0x9e3779b97f4a7c15))
		var mu sync.Mutex
		pairs := make([][2]int32, 0, want)
		for int64(len(pairs)) < want {
			i, j := rng.IntN(n), rng.IntN(n)
			if i == j || (source != nil && source[i] == source[j]) {
				continue
			}
			pairs = append(pairs, [2]int32{int32(i), int32(j)})
		}
		parallel(len(pairs), func(lo, hi int) {
			local := make([][]int64, len(counts))
			for i := range local {
				local[i] = make([]int64, len(counts[i]))
			}
			for _, pr := range pairs[lo:hi] {
				c := m.compare(recs[pr[0]], recs[pr[1]])
				for i := range m.fields {
					local[i][c[i]]++
				}
			}
			mu.Lock()
			for i := range local {
				for k := range local[i] {
					counts[i][k] += local[i][k]
				}
			}
			mu.Unlock()
		})
		total = int64(len(pairs))
	}
	u := make([][]float64, len(m.fields))
	for i, c := range counts {
		u[i] = make([]float64, len(c))
		var nonMissing int64
		for k := 1; k < len(c); k++ {
			nonMissing += c[k]
		}
		levels := float64(len(c) - 1)
		for k := 1; k < len(c); k++ {
			// Add-half smoothing keeps unseen levels finite.
			u[i][k] = (float64(c[k]) + 0.5) / (float64(nonMissing) + 0.5*levels)
		}
	}
	return u, total
}

// pattern is a comparison packed four bits per field.
type pattern uint64

func pack(c *comparison, n int) pattern {
	var p pattern
	for i := 0; i < n; i++ {
		p |= pattern(c[i]) << (4 * i)
	}
	return p
}

func (p pattern) gamma(i int) uint8 { return uint8(p>>(4*i)) & 0xf }

type patternCount struct {
	p pattern
	n float64
}

// patternHistograms compares every candidate pair and counts each
// agreement pattern, once per blocking rule whose key the pair shares; the
// last histogram counts every candidate pair once.
func (m *Matcher) patternHistograms(ctx context.Context, sc *scanner) ([][]patternCount, error) {
	nf, R := len(m.fields), sc.nRules
	workers := runtime.GOMAXPROCS(0)
	locals := make([][]map[pattern]int64, workers)
	for w := range locals {
		locals[w] = make([]map[pattern]int64, R+1)
		for r := range R + 1 {
			locals[w][r] = map[pattern]int64{}
		}
	}
	err := sc.run(ctx, func(w int, i, j int32) {
		c := m.compare(sc.recs[i], sc.recs[j])
		p := pack(&c, nf)
		hi, hj := sc.hashes[int(i)*R:int(i)*R+R], sc.hashes[int(j)*R:int(j)*R+R]
		for r := range R {
			if hi[r] != 0 && hi[r] == hj[r] {
				locals[w][r][p]++
			}
		}
		locals[w][R][p]++
	})
	if err != nil {
		return nil, err
	}
	out := make([][]patternCount, R+1)
	for r := range R + 1 {
		all := map[pattern]int64{}
		for w := range workers {
			for p, n := range locals[w][r] {
				all[p] += n
			}
		}
		hist := make([]patternCount, 0, len(all))
		for p, n := range all {
			hist = append(hist, patternCount{p, float64(n)})
		}
		slices.SortFunc(hist, func(a, b patternCount) int { return cmp.Compare(a.p, b.p) })
		out[r] = hist
	}
	return out, nil
}

// emSessions runs one EM session per blocking rule, ignoring the fields the
// rule blocks on (their agreement is forced by blocking), and averages each
// field's m over the sessions that estimated it.
func (m *Matcher) emSessions(hists [][]patternCount, u0 [][]float64) (mprob [][]float64, iters int, converged bool) {
	nf := len(m.fields)
	sum := make([][]float64, nf)
	cnt := make([]int, nf)
	for i := range nf {
		sum[i] = make([]float64, len(u0[i]))
	}
	converged = true
	for r, hist := range hists {
		if len(hist) == 0 {
			continue
		}
		var exclude [maxFields]bool
		for _, f := range m.ruleFields[r] {
			exclude[f] = true
		}
		mp, _, it, conv := m.em(hist, u0, &exclude, nil, false)
		iters += it
		converged = converged && conv
		for i := range nf {
			if exclude[i] {
				continue
			}
			cnt[i]++
			for k := range mp[i] {
				sum[i][k] += mp[i][k]
			}
		}
	}
	mprob = make([][]float64, nf)
	for i := range nf {
		mprob[i] = make([]float64, len(u0[i]))
		for k := 1; k < len(mprob[i]); k++ {
			if cnt[i] > 0 {
				mprob[i][k] = max(sum[i][k]/float64(cnt[i]), minM)
			} else {
				mprob[i][k] = u0[i][k] // never estimated: weight 0
			}
		}
	}
	return mprob, iters, converged
}

// em estimates m, the u of candidate pairs and the share of matches
// among candidate pairs by expectation-maximisation over the pattern
// histogram. u0 (from random pairs) seeds the non-match distribution.
func (m *Matcher) em(hist []patternCount, u0 [][]float64, exclude *[maxFields]bool, init [][]float64, fixM bool) (mprob [][]float64, lambda float64, iters int, converged bool) {
	nf := len(m.fields)
	mprob = make([][]float64, nf)
	ucand := make([][]float64, nf)
	for i := range nf {
		L := len(m.fields[i].levels) + 1 // levels + else
		mprob[i] = make([]float64, L+1)
		ucand[i] = slices.Clone(u0[i])
		// Start with most matches agreeing at the strongest level.
		rest := 0.9
		for k := 1; k < L; k++ {
			share := rest * 0.6
			if k == L-1 {
				share = rest
			}
			mprob[i][k] = share
			rest -= share
		}
		mprob[i][L] = 0.1
		if init != nil {
			copy(mprob[i], init[i])
		}
	}
	lambda = 0.1
	if len(hist) == 0 {
		return mprob, 1e-9, 0, false
	}
	post := make([]float64, len(hist))
	for iters = 1; iters <= m.settings.Training.MaxIterations; iters++ {
		var sumMatch, sumAll float64
		for h, pc := range hist {
			lm, lu := math.Log(lambda), math.Log(1-lambda)
			for i := range nf {
				g := pc.p.gamma(i)
				if g == gammaMissing || exclude[i] {
					continue
				}
				lm += math.Log(mprob[i][g])
				lu += math.Log(ucand[i][g])
			}
			d := lu - lm
			q := 0.0
			if d < 700 {
				q = 1 / (1 + math.Exp(d))
			}
			post[h] = q
			sumMatch += q * pc.n
			sumAll += pc.n
		}
		newLambda := min(max(sumMatch/sumAll, 1e-9), 1-1e-9)
		delta := math.Abs(newLambda - lambda)
		lambda = newLambda
		for i := range nf {
			accM := make([]float64, len(mprob[i]))
			accU := make([]float64, len(mprob[i]))
			var totM, totU float64
			for h, pc := range hist {
				g := pc.p.gamma(i)
				if g == gammaMissing {
					continue
				}
				accM[g] += post[h] * pc.n
				totM += post[h] * pc.n
				accU[g] += (1 - post[h]) * pc.n
				totU += (1 - post[h]) * pc.n
			}
			for k := 1; k < len(accM); k++ {
				v := minM
				if totM > 0 {
					v = max(accM[k]/totM, minM)
				}
				if !fixM {
					delta = max(delta, math.Abs(v-mprob[i][k]))
					mprob[i][k] = v
				}
				if totU > 0 {
					ucand[i][k] = max(accU[k]/totU, 1e-6)
				}
			}
		}
		if delta < 1e-7 {
			return mprob, lambda, iters, true
		}
	}
	return mprob, lambda, iters - 1, false
}

// termFrequencies counts the values of term-frequency fields and keeps the
// most common ones.
func (m *Matcher) termFrequencies(recs []*Prepared) []*TermFrequencies {
	out := make([]*TermFrequencies, len(m.fields))
	topK := m.settings.Training.TermFrequencyTopK
	for i, f := range m.fields {
		if !f.TermFrequency {
			continue
		}
		counts := map[string]int{}
		n := 0
		for _, r := range recs {
			if v := m.tfValue(i, &r.vals[i]); v != "" {
				counts[v]++
				n++
			}
		}
		type kv struct {
			v string
			c int
		}
		all := make([]kv, 0, len(counts))
		for v, c := range counts {
			if c >= 2 {
				all = append(all, kv{v, c})
			}
		}
		slices.SortFunc(all, func(a, b kv) int { return cmp.Or(cmp.Compare(b.c, a.c), cmp.Compare(a.v, b.v)) })
		if len(all) > topK {
			all = all[:topK]
		}
		tf := &TermFrequencies{Records: n, Counts: make(map[string]int, len(all))}
		for _, e := range all {
			tf.Counts[e.v] = e.c
		}
		out[i] = tf
	}
	return out
}

// allPairs is the number of pairs a full comparison would make.
func allPairs(n int, source []uint8) float64 {
	if source == nil {
		return float64(n) * float64(n-1) / 2
	}
	var left float64
	for _, s := range source {
		if s == 0 {
			left++
		}
	}
	return left * (float64(n) - left)
}

// maxRefineShift is the largest total-variation distance between a field's
// session and refined m distributions that the refinement may cause.
const maxRefineShift = 0.4

// maxShift returns the largest total-variation distance between the m
// distributions of a and b over all fields.
func maxShift(a, b [][]float64) float64 {
	var worst float64
	for i := range a {
		var tv float64
		for k := 1; k < len(a[i]); k++ {
			tv += math.Abs(a[i][k] - b[i][k])
		}
		worst = max(worst, tv/2)
	}
	return worst
}

// minM floors m probabilities: no level is ever impossible among matches,
// so one disagreeing field (a changed job title) cannot veto a pair alone.
const minM = 1e-3
