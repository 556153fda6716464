package dedupe_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/dedupe"
	"github.com/google/uuid"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
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

// TestBatchCheckAsksForRetraining: a batch check enqueues one train_matcher job when the
// contacts have grown by a fifth since the newest model was trained, and none otherwise.
func TestBatchCheckAsksForRetraining(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		trainedOn int
		want      bool
	}{
		{"grown", 2, true},
		{"not grown", 1000, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			md, _, err := b.engine.Model(b.ctx)
			if err != nil {
				t.Fatal(err)
			}
			data, err := md.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.app.Dedupe.SaveModel(b.ctx, data, map[string]any{"contacts": tt.trainedOn}); err != nil {
				t.Fatal(err)
			}
			var ids []uuid.UUID
			for _, n := range []string{"Ada", "Grace", "Edsger"} {
				ids = append(ids, b.add(t, contact.NewContact{FirstName: n, LastName: "Lovelace"}))
			}
			for range 2 { // the second batch finds the first one's job waiting
				out, err := b.engine.CheckBatch(b.ctx, ids)
				if err != nil {
					t.Fatal(err)
				}
				if out.Retrain != tt.want {
					t.Errorf("retrain queued %v; want %v", out.Retrain, tt.want)
				}
			}
			driver := riverpgxv5.New(b.pool)
			if tt.want {
				rivertest.RequireManyInserted(b.ctx, t, driver, []rivertest.ExpectedJob{{Args: &dedupe.TrainArgs{}}})
			} else {
				rivertest.RequireNotInserted(b.ctx, t, driver, &dedupe.TrainArgs{}, nil)
			}
		})
	}
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
