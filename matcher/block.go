package matcher

import (
	"cmp"
	"context"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// BlockingStats describe the candidate pairs of a full scan.
type BlockingStats struct {
	// Rules has one entry per blocking rule, in settings order.
	Rules []RuleStats `json:"rules"`
	// CandidatePairs is the number of pairs compared. Each pair counts
	// once, except that a pair met in an oversized block's window can be
	// met again through a later rule.
	CandidatePairs int64 `json:"candidatePairs"`
}

// RuleStats describe the blocks of one rule.
type RuleStats struct {
	Name string `json:"name"` // the rule's name
	// Blocks is the number of keys shared by at least two records.
	Blocks int `json:"blocks"`
	// LargestBlock is the size of the largest block.
	LargestBlock int `json:"largestBlock"`
	// Oversized blocks exceeded MaxBlockSize and were compared within a
	// sliding window instead of all-to-all.
	Oversized int `json:"oversized"`
	// OversizedRecords is the number of records in oversized blocks.
	OversizedRecords int `json:"oversizedRecords"`
	// Pairs is the number of pairs this rule added (pairs found by an
	// earlier rule are not counted again).
	Pairs int64 `json:"pairs"`
}

// scanner enumerates the candidate pairs of a set of records.
type scanner struct {
	m       *Matcher
	recs    []*Prepared
	source  []uint8 // nil in dedupe mode; otherwise only cross-source pairs
	focus   []bool  // nil, or only pairs with a focus record (ScanOptions.Focus)
	nRules  int
	hashes  []uint64 // len(recs) * nRules
	members [][]int32
	over    []map[uint64]bool
	tasks   []scanTask
	stats   BlockingStats
	// estimate bounds the number of pairs run visits.
	estimate int64
	// sample, when above 1, makes run visit about one pair in sample.
	sample uint64
}

type scanTask struct {
	rule     int
	lo, hi   int
	windowed bool
}

// newScanner computes keys and blocks. source, when non-nil, marks each
// record's data set for linkage.
func (m *Matcher) newScanner(ctx context.Context, recs []*Prepared, source []uint8) (*scanner, error) {
	R := len(m.settings.Blocking)
	s := &scanner{m: m, recs: recs, source: source, nRules: R, hashes: make([]uint64, len(recs)*R)}
	parallel(len(recs), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			m.keyHashes(recs[i], s.hashes[i*R:(i+1)*R])
		}
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	maxBlock, window := m.settings.MaxBlockSize, m.settings.Window
	s.stats.Rules = make([]RuleStats, R)
	s.members = make([][]int32, R)
	s.over = make([]map[uint64]bool, R)
	for r := 0; r < R; r++ {
		st := &s.stats.Rules[r]
		st.Name = m.settings.Blocking[r].Name
		s.over[r] = map[uint64]bool{}
		mem := make([]int32, 0, len(recs))
		for i := range recs {
			if s.hashes[i*R+r] != 0 {
				mem = append(mem, int32(i))
			}
		}
		slices.SortFunc(mem, func(a, b int32) int {
			return cmp.Or(cmp.Compare(s.hashes[int(a)*R+r], s.hashes[int(b)*R+r]), cmp.Compare(a, b))
		})
		s.members[r] = mem
		for lo := 0; lo < len(mem); {
			h := s.hashes[int(mem[lo])*R+r]
			hi := lo + 1
			for hi < len(mem) && s.hashes[int(mem[hi])*R+r] == h {
				hi++
			}
			if n := hi - lo; n >= 2 {
				st.Blocks++
				st.LargestBlock = max(st.LargestBlock, n)
				if n > maxBlock {
					st.Oversized++
					st.OversizedRecords += n
					s.over[r][h] = true
					s.sortBlock(mem[lo:hi])
					for w := lo; w < hi; w += maxBlock {
						end := min(hi, w+maxBlock+window)
						s.tasks = append(s.tasks, scanTask{rule: r, lo: w, hi: end, windowed: true})
						s.estimate += int64(min(maxBlock, end-w)) * int64(window)
					}
				} else {
					s.tasks = append(s.tasks, scanTask{rule: r, lo: lo, hi: hi})
					s.estimate += int64(n) * int64(n-1) / 2
				}
			}
			lo = hi
		}
	}
	return s, nil
}

// sortBlock orders an oversized block by sortKey.
func (s *scanner) sortBlock(block []int32) {
	type keyed struct {
		key string
		i   int32
	}
	ks := make([]keyed, len(block))
	for k, i := range block {
		ks[k] = keyed{s.sortKey(i), i}
	}
	slices.SortFunc(ks, func(a, b keyed) int { return cmp.Or(strings.Compare(a.key, b.key), cmp.Compare(a.i, b.i)) })
	for k := range ks {
		block[k] = ks[k].i
	}
}

// sortKey orders the records of an oversized block so that similar
// records end up within one window.
func (s *scanner) sortKey(i int32) string {
	v := s.recs[i].vals
	var b strings.Builder
	for k := range min(len(v), 3) {
		b.WriteString(v[k].key)
		b.WriteByte('|')
	}
	return b.String()
}

// firstRule reports whether rule r is the first rule that pairs i and j
// through a block that is compared all-to-all, so each pair is visited once.
func (s *scanner) firstRule(r int, i, j int32) bool {
	R := s.nRules
	hi, hj := s.hashes[int(i)*R:int(i)*R+R], s.hashes[int(j)*R:int(j)*R+R]
	for q := 0; q < r; q++ {
		if hi[q] != 0 && hi[q] == hj[q] && !s.over[q][hi[q]] {
			return false
		}
	}
	return true
}

// run visits every candidate pair once (per windowed block, a pair can
// also be visited by another rule), with up to GOMAXPROCS workers. visit
// receives the worker number and the two record indexes, i < j.
func (s *scanner) run(ctx context.Context, visit func(worker int, i, j int32)) error {
	workers := runtime.GOMAXPROCS(0)
	var next atomic.Int64
	pairs := make([][]int64, workers)
	var wg sync.WaitGroup
	for w := range workers {
		pairs[w] = make([]int64, s.nRules)
		wg.Go(func() {
			window := s.m.settings.Window
			maxBlock := s.m.settings.MaxBlockSize
			for {
				t := int(next.Add(1) - 1)
				if t >= len(s.tasks) || ctx.Err() != nil {
					return
				}
				task := s.tasks[t]
				block := s.members[task.rule][task.lo:task.hi]
				n := len(block)
				for a := 0; a < n; a++ {
					end := n
					if task.windowed {
						if a >= maxBlock {
							break
						}
						end = min(n, a+window+1)
					}
					for b := a + 1; b < end; b++ {
						i, j := block[a], block[b]
						if i > j {
							i, j = j, i
						}
						if s.source != nil && s.source[i] == s.source[j] {
							continue
						}
						if s.focus != nil && !s.focus[i] && !s.focus[j] {
							continue
						}
						if s.sample > 1 && pairHash(i, j)%s.sample != 0 {
							continue
						}
						if !s.firstRule(task.rule, i, j) {
							continue
						}
						pairs[w][task.rule]++
						visit(w, i, j)
					}
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	s.stats.CandidatePairs = 0
	for r := range s.nRules {
		s.stats.Rules[r].Pairs = 0
		for w := range workers {
			s.stats.Rules[r].Pairs += pairs[w][r]
		}
		s.stats.CandidatePairs += s.stats.Rules[r].Pairs
	}
	return nil
}

// parallel runs f over [0, n) split into GOMAXPROCS chunks.
func parallel(n int, f func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	if n < 1024 || workers == 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		wg.Go(func() { f(lo, min(n, lo+chunk)) })
	}
	wg.Wait()
}

// pairHash mixes two record indexes (splitmix64) for deterministic sampling.
func pairHash(i, j int32) uint64 {
	z := uint64(uint32(i))<<32 | uint64(uint32(j))
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
