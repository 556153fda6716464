package matcher

import (
	"context"
	"math"
	"testing"
)

func TestClusterAntiChaining(t *testing.T) {
	t.Parallel()
	m, recs, _ := crmSlice(t, 3000)
	md, err := m.Train(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	// A and C are colleagues who share the switchboard; B is a sloppy
	// record that looks like both.
	people := []Record{
		{"firstName": "Anna", "lastName": "Kowalski", "email": "anna.kowalski@initech.com", "phone": "+1 415 555 0100", "company": "Initech"},
		{"firstName": "A.", "lastName": "Kowalski", "email": "", "phone": "415-555-0100", "company": "Initech Inc"},
		{"firstName": "Adam", "lastName": "Kowalski", "email": "adam.kowalski@initech.com", "phone": "(415) 555-0100", "company": "INITECH"},
	}
	ps := make([]*Prepared, len(people))
	for i, p := range people {
		ps[i] = m.Prepare(p)
	}
	ac := md.Score(ps[0], ps[2])
	edges := []Edge{{A: 0, B: 1, Weight: 30}, {A: 1, B: 2, Weight: 29}}
	opt := ClusterOptions{Threshold: 10, Conflict: ac + 1}
	got := md.Cluster(ps, edges, opt)
	if got[0] == got[2] {
		t.Fatalf("A and C clustered through B: %v (A-C weight %.2f)", got, ac)
	}
	if got[0] != got[1] {
		t.Fatalf("the strongest edge A-B was not merged: %v", got)
	}
	opt.Conflict = math.Inf(-1)
	if got := md.Cluster(ps, edges, opt); got[0] != got[2] {
		t.Fatalf("without the guard all three should chain: %v", got)
	}
}

func TestClusterOneToOne(t *testing.T) {
	t.Parallel()
	m, recs, _ := crmSlice(t, 500)
	md, err := m.Train(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	edges := []Edge{{A: 0, B: 2, Weight: 20}, {A: 1, B: 2, Weight: 19}}
	got := md.Cluster(recs[:3], edges, ClusterOptions{Threshold: 0, Conflict: math.Inf(-1), Source: []uint8{0, 0, 1}})
	if got[0] != got[2] || got[1] == got[2] {
		t.Fatalf("linkage must pair one left with one right record: %v", got)
	}
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	clusters := []int32{0, 0, 0, 3, 4}
	truth := []int32{1, 1, 2, 2, 5}
	got := Evaluate(clusters, truth, nil)
	// predicted pairs: 3 (0-1, 0-2, 1-2); true: 0-1, 2-3; correct: 0-1.
	if got.PredictedPairs != 3 || got.TruePairs != 2 || got.TruePositives != 1 {
		t.Fatalf("Evaluate = %+v", got)
	}
	link := Evaluate([]int32{0, 0, 2, 2}, []int32{7, 7, 8, 9}, []uint8{0, 1, 0, 1})
	if link.PredictedPairs != 2 || link.TruePairs != 1 || link.TruePositives != 1 {
		t.Fatalf("Evaluate link = %+v", link)
	}
}
