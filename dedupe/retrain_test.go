package dedupe_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/dedupe"
	"github.com/google/uuid"
)

func TestRetrainDue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name              string
		active, trainedOn int
		want              bool
	}{
		{"built-in model, small database", 9_999, 0, false},
		{"built-in model, first 10,000 contacts", 10_000, 0, true},
		{"grown by less than a fifth", 100_000, 91_000, false},
		{"an import of 10,000 rows", 110_000, 100_000, true},
		{"grown by a fifth", 1_200, 1_000, true},
		{"not grown", 1_000, 1_000, false},
		{"shrunk", 500, 1_000, false},
		{"too few to train on", 99, 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := dedupe.RetrainDue(tt.active, tt.trainedOn); got != tt.want {
				t.Errorf("RetrainDue(%d, %d) = %v; want %v", tt.active, tt.trainedOn, got, tt.want)
			}
		})
	}
}

// TestBatchCheckRetrainsFirstWhenDue: a batch check trains and stores a new model version
// before checking when the contacts have grown by a fifth since the newest model was trained,
// and not otherwise.
func TestBatchCheckRetrainsFirstWhenDue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		trainedOn int
		want      bool
	}{
		{"grown", 80, true},
		{"not grown", 1000, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			v := b.saveModel(t, tt.trainedOn)
			ids := b.addMany(t, dedupe.MinTrain)
			for i := range 2 { // the second batch finds the model trained on these contacts
				out, err := b.engine.CheckBatch(b.ctx, ids)
				if err != nil {
					t.Fatal(err)
				}
				if want := tt.want && i == 0; out.Retrained != want {
					t.Errorf("batch %d: retrained %v; want %v", i, out.Retrained, want)
				}
			}
			latest, err := b.app.Dedupe.LatestModelVersion(b.ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := v
			if tt.want {
				want = v + 1
			}
			if latest != want {
				t.Errorf("newest model version %d; want %d", latest, want)
			}
		})
	}
}

// saveModel stores the engine's current model as the newest version, trained on trainedOn
// contacts.
func (b bundle) saveModel(t *testing.T, trainedOn int) int {
	t.Helper()
	md, _, err := b.engine.Model(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	data, err := md.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	v, err := b.app.Dedupe.SaveModel(b.ctx, data, map[string]any{"contacts": trainedOn})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestBatchChecksRunOneAtATime: a batch check waits while another holds the batch lock.
func TestBatchChecksRunOneAtATime(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.add(t, contact.NewContact{FirstName: "Ada", LastName: "Lovelace"})
	conn, err := b.pool.Acquire(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(b.ctx, `SELECT pg_advisory_lock(7003)`); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(b.ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := b.engine.CheckBatch(ctx, []uuid.UUID{id}); !errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		t.Fatalf("a batch check ran while another held the lock: %v", err)
	}
	if _, err := conn.Exec(b.ctx, `SELECT pg_advisory_unlock(7003)`); err != nil {
		t.Fatal(err)
	}
	if out, err := b.engine.CheckBatch(b.ctx, []uuid.UUID{id}); err != nil || out.Contacts != 1 {
		t.Fatalf("after the lock was released: %+v %v", out, err)
	}
}

// addMany adds n different people.
func (b bundle) addMany(t *testing.T, n int) []uuid.UUID {
	t.Helper()
	firsts := []string{"Ada", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Alan", "Radia", "Ken", "Margaret"}
	lasts := []string{"Lovelace", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Turing", "Perlman", "Thompson", "Hamilton"}
	ids := make([]uuid.UUID, n)
	for i := range ids {
		f, l := firsts[i%len(firsts)], lasts[i/len(firsts)%len(lasts)]
		ids[i] = b.add(t, contact.NewContact{FirstName: f, LastName: l, Email: fmt.Sprintf("%s.%s%d@example.com", f, l, i)})
	}
	return ids
}

// TestScanRetrainsFirstWhenDue: a scan of contacts that outgrew the newest model trains and
// stores a new model version first, and scans with it.
func TestScanRetrainsFirstWhenDue(t *testing.T) {
	t.Parallel()
	b := setup(t)
	v := b.saveModel(t, 80)
	b.addMany(t, dedupe.MinTrain)
	st, err := b.engine.Scan(b.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.TrainSeconds == 0 || st.ModelVersion != v+1 {
		t.Fatalf("scan stats %+v: want a retraining first and model version %d", st, v+1)
	}
	st, err = b.engine.Scan(b.ctx, nil)
	if err != nil || st.TrainSeconds != 0 || st.ModelVersion != v+1 {
		t.Fatalf("second scan %+v %v: want no retraining, model version %d", st, err, v+1)
	}
}
