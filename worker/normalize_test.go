package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/app"
	"github.com/contactd/contactd/internal/dbtest"
	"github.com/contactd/contactd/worker"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
)

// TestNormalizeEndToEnd runs the real River client: a created contact gets its normalized forms
// from the job, and a later phone change gets a new job and new forms.
func TestNormalizeEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, a, completed := startWorkers(t)

	c, err := a.Contacts.CreateContact(ctx, contact.NewContact{FirstName: "Ada", Email: "ada@EXAMPLE.com", Phone: "(415) 555-0100 ext. 42"})
	if err != nil {
		t.Fatal(err)
	}
	waitForJob(t, completed, "normalize_contact")
	got, err := a.Contacts.GetContact(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	n := got.Normalized
	if n.Phone == nil || *n.Phone != "+14155550100" || n.PhoneExtension == nil || *n.PhoneExtension != "42" ||
		n.PhoneValid == nil || !*n.PhoneValid || n.Email == nil || *n.Email != "ada@example.com" || n.At == nil {
		t.Fatalf("normalized = %+v", n)
	}

	if _, err := a.Contacts.UpdateContact(ctx, c.ID, contact.Update{Phone: contact.Some("12345")}); err != nil {
		t.Fatal(err)
	}
	waitForJob(t, completed, "normalize_contact")
	got, err = a.Contacts.GetContact(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Normalized.PhoneValid == nil || *got.Normalized.PhoneValid {
		t.Fatalf("an invalid number must be flagged, not rejected: %+v", got.Normalized)
	}
	trail, err := a.Contacts.AuditTrail(ctx, c.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var byJob int
	for _, e := range trail {
		if e.Actor == "job:normalize_contact" && e.Action == "normalize" {
			byJob++
		}
	}
	if byJob != 2 {
		t.Fatalf("%d normalize audit entries by the job, want 2: %+v", byJob, trail)
	}
}

// startWorkers gives the test a fresh database, the stores over it and a running River client
// working every contactd job, with a subscription to jobs ending.
func startWorkers(t *testing.T) (*pgxpool.Pool, *app.App, <-chan *river.Event) {
	t.Helper()
	pool := dbtest.Pool(t)
	a, err := app.New(pool)
	if err != nil {
		t.Fatal(err)
	}
	client, err := worker.NewClient(a, worker.Config{DefaultRegion: "US", MaxWorkers: 4})
	if err != nil {
		t.Fatal(err)
	}
	events, cancel := client.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed)
	t.Cleanup(cancel)
	if err := client.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Stop(context.Background()) })
	return pool, a, events
}

func waitForJob(t *testing.T, events <-chan *river.Event, kind string) {
	t.Helper()
	waitForJobWithin(t, events, kind, 10*time.Second)
}

// waitForJobWithin waits for a job of the kind to complete; any job failing fails the test.
func waitForJobWithin(t *testing.T, events <-chan *river.Event, kind string, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case ev := <-events:
			if ev.Kind != river.EventKindJobCompleted {
				t.Fatalf("job %s ended %s: %+v", ev.Job.Kind, ev.Kind, ev.Job.Errors)
			}
			if ev.Job.Kind == kind {
				return
			}
		case <-deadline:
			t.Fatalf("no %s job completed within %s", kind, within)
		}
	}
}
