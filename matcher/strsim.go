package matcher

import "github.com/agnivade/levenshtein"

// JaroWinkler returns the Jaro-Winkler similarity of a and b in [0, 1]
// (1 for equal strings, 0 when either is empty), with the usual prefix
// scale 0.1 over at most four characters. It compares bytes, which is exact
// for the folded ASCII strings the matcher compares.
func JaroWinkler(a, b string) float64 {
	if a == b {
		if a == "" {
			return 0
		}
		return 1
	}
	la, lb := len(a), len(b)
	if la == 0 || lb == 0 {
		return 0
	}
	if la > lb {
		a, b, la, lb = b, a, lb, la
	}
	window := lb/2 - 1
	if window < 0 {
		window = 0
	}
	var bufA, bufB [64]bool
	var ma, mb []bool
	if la <= 64 && lb <= 64 {
		ma, mb = bufA[:la], bufB[:lb]
	} else {
		ma, mb = make([]bool, la), make([]bool, lb)
	}
	matches := 0
	for i := 0; i < la; i++ {
		lo, hi := max(0, i-window), min(lb, i+window+1)
		for j := lo; j < hi; j++ {
			if !mb[j] && a[i] == b[j] {
				ma[i], mb[j] = true, true
				matches++
				break
			}
		}
	}
	if matches == 0 {
		return 0
	}
	trans, k := 0, 0
	for i := 0; i < la; i++ {
		if !ma[i] {
			continue
		}
		for !mb[k] {
			k++
		}
		if a[i] != b[k] {
			trans++
		}
		k++
	}
	m := float64(matches)
	jaro := (m/float64(la) + m/float64(lb) + (m-float64(trans/2))/m) / 3
	prefix := 0
	for prefix < 4 && prefix < la && a[prefix] == b[prefix] {
		prefix++
	}
	return jaro + float64(prefix)*0.1*(1-jaro)
}

// Levenshtein returns the edit distance between a and b in runes.
func Levenshtein(a, b string) int {
	if a == b {
		return 0
	}
	return levenshtein.ComputeDistance(a, b)
}

// Soundex returns the American Soundex code of the first word of a folded
// name (Robert → R163), or "" when it has no letter.
func Soundex(s string) string {
	const codes = "01230120022455012623010202" // a..z
	var out [4]byte
	n := 0
	var last byte
	for i := 0; i < len(s) && n < 4; i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c < 'a' || c > 'z' {
			if c == ' ' && n > 0 {
				break
			}
			continue
		}
		code := codes[c-'a']
		if n == 0 {
			out[0] = c - 'a' + 'A'
			n = 1
			last = code
			continue
		}
		if code != '0' && code != last {
			out[n] = code
			n++
		}
		if c != 'h' && c != 'w' {
			last = code
		}
	}
	if n == 0 {
		return ""
	}
	for n < 4 {
		out[n] = '0'
		n++
	}
	return string(out[:])
}

// withinLevenshtein reports whether the edit distance of a and b is at
// most k. ASCII strings use a banded computation that stops as soon as the
// bound is exceeded; others use Levenshtein.
func withinLevenshtein(a, b string, k int) bool {
	if d := len(a) - len(b); d > k || -d > k {
		if isASCII(a) && isASCII(b) {
			return false
		}
	}
	if !isASCII(a) || !isASCII(b) || len(b) > 62 {
		return Levenshtein(a, b) <= k
	}
	// prev[j] is the distance between a[:i-1] and b[:j].
	var prevBuf, curBuf [64]int
	prev, cur := prevBuf[:len(b)+1], curBuf[:len(b)+1]
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		lo, hi := max(1, i-k), min(len(b), i+k)
		if lo > 1 {
			cur[lo-1] = k + 1
		}
		rowMin := cur[0]
		if lo > 1 {
			rowMin = k + 1
		}
		for j := lo; j <= hi; j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := prev[j-1] + cost
			if j < i+k && prev[j]+1 < v { // prev[j] lies in the previous band
				v = prev[j] + 1
			}
			if cur[j-1]+1 < v {
				v = cur[j-1] + 1
			}
			cur[j] = v
			rowMin = min(rowMin, v)
		}
		if hi < len(b) {
			cur[hi+1] = k + 1
		}
		if rowMin > k {
			return false
		}
		prev, cur = cur, prev
	}
	return prev[len(b)] <= k
}
