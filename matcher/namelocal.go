package matcher

import (
	"cmp"
	"hash/maphash"
	"slices"
	"strings"
)

// The e-mail local part of most work addresses is made from the person's
// name (john.smith@, jsmith@, smith.j@). Two namesakes at different
// companies then share their local part by construction: that agreement
// repeats the name's evidence instead of adding its own, and
// Fellegi-Sunter assumes the comparisons are independent. A record's
// e-mail is marked name-derived when its local part is made of its own
// name's tokens and initials only; the level emailNameLocal holds when two
// local parts agree and either is name-derived, and its u is estimated among pairs whose names
// agree (see estimateNameLocalU), so that it weighs what the local part adds
// to the name and no more.

// maxNameTokens bounds the name tokens a local part is segmented over.
const maxNameTokens = 6

// nameDerivedLocal reports whether the e-mail local part local (lower case)
// is spelt with the tokens of the folded names only: each token whole or
// as its initial, each at most once, in any order, with at least one whole
// token, ignoring the separators . _ and -. A local part with digits or any
// other letters is not name-derived.
func nameDerivedLocal(local string, names ...string) bool {
	var b strings.Builder
	for i := 0; i < len(local); i++ {
		switch c := local[i]; {
		case c == '.' || c == '_' || c == '-':
		case 'a' <= c && c <= 'z':
			b.WriteByte(c)
		default:
			return false
		}
	}
	s := b.String()
	if s == "" {
		return false
	}
	var toks []string
	for _, n := range names {
		for _, t := range strings.FieldsFunc(n, func(r rune) bool { return r < 'a' || r > 'z' }) {
			if len(toks) < maxNameTokens {
				toks = append(toks, t)
			}
		}
	}
	return segment(s, toks, 0, false)
}

// segment reports whether s splits into whole tokens or initials of the
// tokens not yet used (bit set in used), with at least one whole token.
func segment(s string, toks []string, used uint, whole bool) bool {
	if s == "" {
		return whole
	}
	for i, t := range toks {
		if used&(1<<i) != 0 {
			continue
		}
		if strings.HasPrefix(s, t) && segment(s[len(t):], toks, used|1<<i, true) {
			return true
		}
		if s[0] == t[0] && segment(s[1:], toks, used|1<<i, whole) {
			return true
		}
	}
	return false
}

// markNameDerived sets the aux of each e-mail value of p to 1 when its
// local part is derived from the record's name fields, 0 otherwise.
func (m *Matcher) markNameDerived(p *Prepared) {
	if len(m.emailFields) == 0 || len(m.nameFields) == 0 {
		return
	}
	names := make([]string, 0, len(m.nameFields))
	for _, i := range m.nameFields {
		if s := p.vals[i].s; s != "" {
			names = append(names, s)
		}
	}
	for _, i := range m.emailFields {
		v := &p.vals[i]
		v.aux = 0
		if l := emailLocal(v.key); l != "" && len(names) > 0 && nameDerivedLocal(l, names...) {
			v.aux = 1
		}
	}
}

// maxNameGroup bounds the records of one full name whose pairs
// estimateNameLocalU compares, so that a very common name costs no more
// than a few thousand comparisons.
const maxNameGroup = 64

// estimateNameLocalU estimates the u of the emailNameLocal level: the
// share of pairs at that level among the pairs whose names agree exactly
// and whose addresses are both present and differ. Such pairs include some
// duplicates, which only makes the estimate, and with it the level's
// weight, more cautious. With few such pairs it tends to one half.
func (m *Matcher) estimateNameLocalU(recs []*Prepared, source []uint8) float64 {
	if len(m.emailFields) == 0 || len(m.nameFields) == 0 {
		return 0.5
	}
	groups := map[string][]int32{}
	var b strings.Builder
	for r, p := range recs {
		b.Reset()
		for _, i := range m.nameFields {
			b.WriteString(p.vals[i].s)
			b.WriteByte(0)
		}
		if k := b.String(); len(k) > len(m.nameFields) {
			if g := groups[k]; len(g) < maxNameGroup {
				groups[k] = append(g, int32(r))
			}
		}
	}
	var at, total float64
	for _, g := range groups {
		for x := 0; x < len(g); x++ {
			for y := x + 1; y < len(g); y++ {
				a, c := recs[g[x]], recs[g[y]]
				if source != nil && source[g[x]] == source[g[y]] {
					continue
				}
				for _, i := range m.emailFields {
					va, vb := &a.vals[i], &c.vals[i]
					if va.s == "" || vb.s == "" || va.key == vb.key {
						continue
					}
					total++
					if m.holds(&Level{Kind: "emailNameLocal"}, va, vb) {
						at++
					}
				}
			}
		}
	}
	return (at + 0.5) / (total + 1)
}

// maxNameVariantEdits bounds the edits between two local parts at one
// domain for the level emailNameVariant: jerry.li and larry.li (two edits)
// look alike the way their names do. Two name-shaped addresses at one
// domain further apart (jessica.cole@ and john.hunter@, robert.lewis@ and
// robert.vargas@) are two colleagues' addresses, evidence that the records
// are two people: they fall to else, as they did before the level existed.
const maxNameVariantEdits = 2

// fullNameKey is the full name of a record as full-name term frequencies
// count it: the two SwapNames fields' values, in sorted order so that a
// record with its names crossed counts with the others.
func (m *Matcher) fullNameKey(p *Prepared) string {
	a, b := m.tfValue(m.swapA, &p.vals[m.swapA]), m.tfValue(m.swapB, &p.vals[m.swapB])
	if a == "" || b == "" {
		return ""
	}
	if a > b {
		a, b = b, a
	}
	return a + "|" + b
}

// fullNameFrequencies counts the full names of recs, each once per value
// of the DistinctBy field, and keeps the most common ones counted at
// least MinPeople times (nil without Settings.FullNameFrequency).
func (m *Matcher) fullNameFrequencies(recs []*Prepared) *TermFrequencies {
	f := m.settings.FullNameFrequency
	if f == nil || m.swapA < 0 {
		return nil
	}
	by := -1
	if f.DistinctBy != "" {
		by = m.fieldIndex(f.DistinctBy)
	}
	minPeople := f.MinPeople
	if minPeople == 0 {
		minPeople = 3
	}
	// A full name and DistinctBy value are seen by their hash: at a million records the
	// strings themselves would cost a hundred megabytes, and a collision only drops one count.
	seed := maphash.MakeSeed()
	seen := map[uint64]struct{}{}
	counts := map[string]int{}
	n := 0
	for _, r := range recs {
		k := m.fullNameKey(r)
		if k == "" {
			continue
		}
		if by >= 0 {
			var h maphash.Hash
			h.SetSeed(seed)
			h.WriteString(k)
			h.WriteByte(0)
			h.WriteString(r.vals[by].key)
			u := h.Sum64()
			if _, ok := seen[u]; ok {
				continue
			}
			seen[u] = struct{}{}
		}
		counts[k]++
		n++
	}
	type kv struct {
		v string
		c int
	}
	var all []kv
	for v, c := range counts {
		if c >= minPeople {
			all = append(all, kv{v, c})
		}
	}
	slices.SortFunc(all, func(a, b kv) int { return cmp.Or(cmp.Compare(b.c, a.c), cmp.Compare(a.v, b.v)) })
	if topK := m.settings.Training.TermFrequencyTopK; len(all) > topK {
		all = all[:topK]
	}
	tf := &TermFrequencies{Records: n, Counts: make(map[string]int, len(all))}
	for _, e := range all {
		tf.Counts[e.v] = e.c
	}
	return tf
}
