package worker

import (
	"context"
	"time"

	"github.com/contactd/contactd/consent"
	"github.com/riverqueue/river"
)

// consentStatesEvery is how often every consent state is checked against its events: states are
// not known only for contacts with events from before they were kept, and differ only where an
// older version wrote events or merges during a rolling upgrade, so after the run at start the
// daily pass writes nothing (it reads the contacts table once).
const consentStatesEvery = 24 * time.Hour

// ConsentStatesWorker checks the consent states and writes those not known or stale
// (consent.Store.RefreshStates).
type ConsentStatesWorker struct {
	river.WorkerDefaults[consent.RefreshStatesArgs]
	Store *consent.Store
}

// Timeout lets the pass run as long as it takes: it reads the whole contacts table.
func (w *ConsentStatesWorker) Timeout(*river.Job[consent.RefreshStatesArgs]) time.Duration { return -1 }

// Work checks the states and records how many it wrote.
func (w *ConsentStatesWorker) Work(ctx context.Context, job *river.Job[consent.RefreshStatesArgs]) error {
	n, err := w.Store.RefreshStates(ctx)
	if err != nil {
		return err
	}
	return river.RecordOutput(ctx, map[string]int{"written": n})
}
