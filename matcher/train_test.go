package matcher

import (
	"context"
	"errors"
	"testing"
)

func TestTrainEdgeCases(t *testing.T) {
	t.Parallel()
	s := DefaultSettings()
	s.Training.USamples = 1000
	m, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Train(context.Background(), []*Prepared{m.Prepare(Record{})}); err == nil {
		t.Error("Train accepted a single record")
	}
	empty := []*Prepared{m.Prepare(Record{}), m.Prepare(Record{}), m.Prepare(Record{"firstName": "x"})}
	md, err := m.Train(context.Background(), empty)
	if err != nil {
		t.Fatalf("Train on empty records: %v", err)
	}
	res, err := md.Dedupe(context.Background(), empty, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Edges) != 0 || res.Clusters[0] == res.Clusters[1] {
		t.Errorf("empty records matched: %+v", res)
	}
	if _, err := m.TrainLink(context.Background(), empty[:1], empty[1:]); err != nil {
		t.Errorf("TrainLink: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Train(ctx, empty); !errors.Is(err, context.Canceled) {
		t.Errorf("Train with a cancelled context: err = %v", err)
	}
	if _, err := md.Dedupe(ctx, empty, ScanOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Dedupe with a cancelled context: err = %v", err)
	}
}

func TestEMConverges(t *testing.T) {
	t.Parallel()
	m, recs, _ := crmSlice(t, 5000)
	md, err := m.Train(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	st := md.Params().Training
	if !st.Converged || st.Iterations == 0 {
		t.Fatalf("EM did not converge: %+v", st)
	}
	// Agreement must be evidence for a match and disagreement against it.
	for _, f := range md.Params().Fields {
		first, last := f.Levels[0], f.Levels[len(f.Levels)-1]
		if first.M <= first.U || last.M >= last.U {
			t.Errorf("field %s: exact m=%.4f u=%.4f, else m=%.4f u=%.4f", f.Name, first.M, first.U, last.M, last.U)
		}
	}
}
