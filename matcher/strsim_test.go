package matcher

import (
	"math/rand/v2"
	"testing"
)

func TestWithinLevenshtein(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := "abcde"
	word := func() string {
		b := make([]byte, r.IntN(9))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(b)
	}
	for range 20000 {
		a, b, k := word(), word(), 1+r.IntN(3)
		if got, want := withinLevenshtein(a, b, k), Levenshtein(a, b) <= k; got != want {
			t.Fatalf("withinLevenshtein(%q, %q, %d) = %v; distance %d", a, b, k, got, Levenshtein(a, b))
		}
	}
	if !withinLevenshtein("müller", "muller", 1) {
		t.Fatal("non-ASCII: müller vs muller should be within 1")
	}
}
