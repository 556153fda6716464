package contact

import (
	"strings"
	"unicode/utf8"
)

// valueFinder finds many values in a text in one pass over it (Aho-Corasick over the bytes of the
// lower-cased text): an erasure of a retention batch looks for thousands of values in every
// row it rechecks, which a Contains per value would make cost values × rows.
type valueFinder struct {
	// next[s] maps a byte to the state it leads to from state s (goto, failures folded in).
	next []map[byte]int32
	fail []int32
	// out[s] are the values (indexes into vals) that end at state s, its failures' included.
	out  [][]int32
	vals []matchValue
}

// matchValue is one value looked for; word values match only as whole words, and a first
// name (a word too) is weaker than the others (see Personal.FirstNames).
type matchValue struct {
	s           string
	word, first bool
}

// found is what a valueFinder found in a text, weakest first.
type found int

const (
	foundNothing   found = iota
	foundFirstName       // a first name alone
	foundValue           // a needle or a name
)

func newValueFinder(vals []matchValue) *valueFinder {
	m := &valueFinder{next: []map[byte]int32{{}}, fail: []int32{0}, out: [][]int32{nil}, vals: vals}
	for i, v := range vals {
		s := int32(0)
		for j := 0; j < len(v.s); j++ {
			c := v.s[j]
			t, ok := m.next[s][c]
			if !ok {
				t = int32(len(m.next))
				m.next = append(m.next, map[byte]int32{})
				m.fail = append(m.fail, 0)
				m.out = append(m.out, nil)
				m.next[s][c] = t
			}
			s = t
		}
		m.out[s] = append(m.out[s], int32(i))
	}
	// Breadth first: each state's failure is the longest proper suffix that is a state.
	queue := make([]int32, 0, len(m.next))
	for _, t := range m.next[0] {
		queue = append(queue, t)
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for c, t := range m.next[s] {
			queue = append(queue, t)
			f := m.fail[s]
			for f != 0 {
				if _, ok := m.next[f][c]; ok {
					break
				}
				f = m.fail[f]
			}
			if g, ok := m.next[f][c]; ok && g != t {
				m.fail[t] = g
			}
			m.out[t] = append(m.out[t], m.out[m.fail[t]]...)
		}
	}
	return m
}

// find reports what l (lower-cased) holds: a needle anywhere, a word with no letter, digit or
// underscore on either side; only first names, when nothing else.
func (m *valueFinder) find(l string) found {
	f := foundNothing
	s := int32(0)
	for i := 0; i < len(l); i++ {
		c := l[i]
		for {
			if t, ok := m.next[s][c]; ok {
				s = t
				break
			}
			if s == 0 {
				break
			}
			s = m.fail[s]
		}
		for _, v := range m.out[s] {
			val := m.vals[v]
			if val.word {
				start, end := i+1-len(val.s), i+1
				if wordRune(lastRune(l[:start])) || wordRune(firstRune(l[end:])) {
					continue
				}
			}
			if !val.first {
				return foundValue
			}
			f = foundFirstName
		}
	}
	return f
}

// finder builds p's valueFinder once.
func (p *Personal) finder() *valueFinder {
	p.once.Do(func() {
		vals := make([]matchValue, 0, len(p.Needles)+len(p.Words)+len(p.FirstNames))
		for _, n := range p.Needles {
			if n != "" {
				vals = append(vals, matchValue{s: strings.ToLower(n)})
			}
		}
		for _, w := range p.Words {
			if w != "" {
				vals = append(vals, matchValue{s: strings.ToLower(w), word: true})
			}
		}
		for _, w := range p.FirstNames {
			if w != "" {
				vals = append(vals, matchValue{s: strings.ToLower(w), word: true, first: true})
			}
		}
		p.vf = newValueFinder(vals)
	})
	return p.vf
}

// minLikeRunes is the shortest value LikePatterns looks up: a trigram index finds nothing
// shorter than a trigram, so a pattern of two letters would read the whole index.
const minLikeRunes = 3

// LikePatterns returns ILIKE patterns (%value%, with \ escaping) of p's needles and words of at
// least three characters (not the first names: a row holding one alone is not about them), to find through a trigram index (pg_trgm, gin_trgm_ops) the rows of a
// table whose text may hold p's values; Mentions then decides on each row found. A name shorter
// than three characters is found only within a longer value (the whole name, an email).
func (p *Personal) LikePatterns() []string {
	seen := map[string]bool{}
	out := make([]string, 0, len(p.Needles)+len(p.Words))
	for _, v := range append(append([]string(nil), p.Needles...), p.Words...) {
		v = strings.ToLower(v)
		if utf8.RuneCountInString(v) < minLikeRunes || seen[v] {
			continue
		}
		seen[v] = true
		out = append(out, "%"+likeEscaper.Replace(v)+"%")
	}
	return out
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
