package dedupe_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

func TestRetrainReason(t *testing.T) {
	t.Parallel()
	names := []string{"email present", "email common"}
	trained := &dedupe.Profile{Rows: 1_000, Names: names, Counts: []int64{600, 100}}
	tests := []struct {
		name              string
		active, trainedOn int
		trained           *dedupe.Profile
		intake            dedupe.Intake
		want              string
	}{
		{"nothing new", 50_000, 50_000, trained, dedupe.Intake{}, ""},
		{"10,000 rows, half merged", 55_000, 50_000, trained,
			dedupe.Intake{Rows: 10_000}, "10000 rows checked since the model was trained"},
		{"9,999 rows", 55_000, 50_000, trained, dedupe.Intake{Rows: 9_999}, ""},
		{"10,000 rows into the built-in model", 5_000, 0, nil,
			dedupe.Intake{Rows: 10_000}, "10000 rows checked since the model was trained"},
		{"growth first", 60_000, 50_000, trained,
			dedupe.Intake{Rows: 10_000}, "10000 more active contacts than the model was trained on"},
		{"drifted", 50_500, 50_000, trained,
			dedupe.Intake{Rows: 2_000, Profile: dedupe.Profile{Rows: 2_000, Names: names, Counts: []int64{1_900, 200}}},
			"drift: email present 0.60 -> 0.95"},
		{"moved less than the shift", 50_500, 50_000, trained,
			dedupe.Intake{Rows: 2_000, Profile: dedupe.Profile{Rows: 2_000, Names: names, Counts: []int64{1_400, 300}}}, ""},
		{"drifted, too few profiled", 50_500, 50_000, trained,
			dedupe.Intake{Rows: 999, Profile: dedupe.Profile{Rows: 999, Names: names, Counts: []int64{999, 0}}}, ""},
		{"other features", 50_500, 50_000, trained,
			dedupe.Intake{Rows: 2_000, Profile: dedupe.Profile{Rows: 2_000, Names: []string{"phone present"}, Counts: []int64{0}}}, ""},
		{"too few to train on", 99, 2, trained, dedupe.Intake{Rows: 50_000}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := dedupe.RetrainReason(tt.active, tt.trainedOn, tt.trained, tt.intake); got != tt.want {
				t.Errorf("RetrainReason = %q; want %q", got, tt.want)
			}
		})
	}
}

// TestBatchCheckRetrainsAfterImportedRows: the rows batch checks were asked to check count,
// whether or not the contacts stayed active: a batch check after 10,000 of them since the newest
// model retrains first, and the new model version records why.
func TestBatchCheckRetrainsAfterImportedRows(t *testing.T) {
	t.Parallel()
	b := setup(t)
	v := b.saveModel(t, 1_000) // the database has not grown past it
	ids := b.addMany(t, dedupe.MinTrain)
	// 9,900 rows came in earlier (most of them merged away since).
	if err := b.app.Dedupe.AddIntake(b.ctx, dedupe.RetrainRows-dedupe.MinTrain, dedupe.Profile{}); err != nil {
		t.Fatal(err)
	}
	out, err := b.engine.CheckBatch(b.ctx, ids)
	if err != nil || out.Retrained {
		t.Fatalf("first batch: %+v %v; want no retraining yet", out, err)
	}
	out, err = b.engine.CheckBatch(b.ctx, ids[:1])
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%d rows checked since the model was trained", dedupe.RetrainRows)
	if !out.Retrained || out.RetrainReason != want {
		t.Fatalf("second batch: retrained %v (%q); want %q", out.Retrained, out.RetrainReason, want)
	}
	if got := b.modelReason(t, v+1); got != want {
		t.Errorf("model version %d reason %q; want %q", v+1, got, want)
	}
	// The new version starts counting afresh, and not the contacts it was trained on.
	if out, err := b.engine.CheckBatch(b.ctx, ids); err != nil || out.Retrained {
		t.Errorf("third batch: %+v %v; want no retraining", out, err)
	}
	if in, err := b.app.Dedupe.Intake(b.ctx, v+1); err != nil || in.Rows != 0 || in.Profile.Rows != 0 {
		t.Errorf("intake of version %d: %+v %v; want none (its contacts are older)", v+1, in, err)
	}
}

// TestBatchCheckRetrainsOnDrift: when the contacts checked since the newest model differ from
// those it was trained on (here: e-mail addresses on all of them, against none), a batch check
// retrains first and records the drift as the reason; with the same profile it does not.
func TestBatchCheckRetrainsOnDrift(t *testing.T) {
	t.Parallel()
	for _, drifted := range []bool{true, false} {
		t.Run(fmt.Sprintf("drifted=%v", drifted), func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			v := b.saveModel(t, 1_000)
			ids := b.addMany(t, dedupe.MinTrain)
			if out, err := b.engine.CheckBatch(b.ctx, ids); err != nil || out.Retrained {
				t.Fatalf("first batch: %+v %v; want no retraining", out, err)
			}
			seen, err := b.app.Dedupe.Intake(b.ctx, v)
			if err != nil || seen.Profile.Rows != int64(len(ids)) {
				t.Fatalf("intake %+v %v; want %d contacts profiled", seen, err, len(ids))
			}
			// A model trained on contacts like these, except (when drifted) without e-mails.
			trained := seen.Profile
			trained.Counts = slices.Clone(trained.Counts)
			email := slices.Index(trained.Names, "email present")
			if email < 0 {
				t.Fatalf("profile features %v: no e-mail presence", trained.Names)
			}
			if drifted {
				trained.Counts[email] = 0
			}
			md, _, err := b.engine.Model(b.ctx)
			if err != nil {
				t.Fatal(err)
			}
			data, err := md.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			v2, err := b.app.Dedupe.SaveModel(b.ctx, data, map[string]any{"contacts": 1_000, "profile": trained})
			if err != nil {
				t.Fatal(err)
			}
			more := seen.Profile
			for i := range more.Counts {
				more.Counts[i] *= 10
			}
			more.Rows *= 10
			if err := b.app.Dedupe.AddIntake(b.ctx, more.Rows, more); err != nil {
				t.Fatal(err)
			}
			out, err := b.engine.CheckBatch(b.ctx, ids[:1])
			if err != nil {
				t.Fatal(err)
			}
			if !drifted {
				if out.Retrained {
					t.Fatalf("retrained (%q) without drift", out.RetrainReason)
				}
				return
			}
			const want = "drift: email present 0.00 -> 1.00"
			if !out.Retrained || out.RetrainReason != want {
				t.Fatalf("retrained %v (%q); want %q", out.Retrained, out.RetrainReason, want)
			}
			if got := b.modelReason(t, v2+1); got != want {
				t.Errorf("model version %d reason %q; want %q", v2+1, got, want)
			}
		})
	}
}

// modelReason returns the reason stored with a model version.
func (b bundle) modelReason(t *testing.T, version int) string {
	t.Helper()
	var reason string
	if err := b.pool.QueryRow(b.ctx, `SELECT coalesce(stats->>'reason', '') FROM matcher_models WHERE version = $1`, version).Scan(&reason); err != nil {
		t.Fatal(err)
	}
	return reason
}
