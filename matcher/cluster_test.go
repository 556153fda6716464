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

// TestClusterJoined: records joined before clustering stay together, and a record that clearly
// differs from a joined member does not join their cluster, though its edge is to the other.
func TestClusterJoined(t *testing.T) {
	t.Parallel()
	m, recs, _ := crmSlice(t, 3000)
	md, err := m.Train(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	people := []Record{
		{"firstName": "Robert", "lastName": "Smithson", "email": "robert.smithson@acme-widgets.com", "phone": "+1 415 555 0142", "company": "Acme Widgets"},
		{"firstName": "Roberta", "lastName": "Smithson", "email": "robert.smithson@acme-widgets.com", "phone": "+1 212 555 0199", "company": "Acme Widgets", "title": "Buyer"},
		{"firstName": "Bob", "lastName": "Smithson", "email": "bob.smithson@gmail.com", "phone": "+1 415 555 0142", "company": "Acme Widgets", "title": "CTO"},
	}
	ps := make([]*Prepared, len(people))
	for i, p := range people {
		ps[i] = m.Prepare(p)
	}
	conflict := md.Score(ps[1], ps[2]) + 1
	edges := []Edge{{A: 0, B: 1, Weight: 30}}
	tests := []struct {
		name     string
		joined   []int32
		together bool // Robert and Roberta
	}{
		{"nothing joined", nil, true},
		{"Bob merged into Robert", []int32{-1, -1, 0}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := md.Cluster(ps, edges, ClusterOptions{Threshold: 10, Conflict: conflict, Joined: tt.joined})
			if (got[0] == got[1]) != tt.together {
				t.Errorf("clusters %v: Robert with Roberta = %v, want %v", got, got[0] == got[1], tt.together)
			}
			if tt.joined != nil && got[0] != got[2] {
				t.Errorf("clusters %v: Bob left Robert", got)
			}
		})
	}
}

// TestDedupeFocus: with focus, a scan scores only the pairs with a focus record.
func TestDedupeFocus(t *testing.T) {
	t.Parallel()
	m, recs, _ := crmSlice(t, 3000)
	md, err := m.Train(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	all, err := md.Dedupe(context.Background(), recs, ScanOptions{KeepAll: true, SkipClustering: true})
	if err != nil {
		t.Fatal(err)
	}
	focus := make([]bool, len(recs))
	for i := range focus {
		focus[i] = i%10 == 0
	}
	got, err := md.Dedupe(context.Background(), recs, ScanOptions{KeepAll: true, SkipClustering: true, Focus: focus})
	if err != nil {
		t.Fatal(err)
	}
	want := map[[2]int32]bool{}
	for _, e := range all.Edges {
		if focus[e.A] || focus[e.B] {
			want[[2]int32{e.A, e.B}] = true
		}
	}
	if len(got.Edges) != len(want) || len(want) == 0 {
		t.Fatalf("%d focus edges, want %d", len(got.Edges), len(want))
	}
	for _, e := range got.Edges {
		if !want[[2]int32{e.A, e.B}] {
			t.Fatalf("edge %v has no focus record", e)
		}
	}
	if _, err := md.Dedupe(context.Background(), recs, ScanOptions{Focus: focus[:1]}); err == nil {
		t.Error("focus of the wrong length accepted")
	}
}
