package worker

import (
	"context"
	"time"

	"github.com/contactd/contactd/consent"
	"github.com/riverqueue/river"
)

// consentStatesEvery is how often the consent states not known are looked for: only contacts
// with events from before the states were kept have none, so after the first run at start the
// daily pass finds nothing (it reads the contacts table once).
const consentStatesEvery = 24 * time.Hour

// ConsentStatesWorker computes the consent states not known (consent.Store.RefreshStates).
type ConsentStatesWorker struct {
	river.WorkerDefaults[consent.RefreshStatesArgs]
	Store *consent.Store
}

// Work computes the states and records how many it computed.
func (w *ConsentStatesWorker) Work(ctx context.Context, job *river.Job[consent.RefreshStatesArgs]) error {
	n, err := w.Store.RefreshStates(ctx)
	if err != nil {
		return err
	}
	return river.RecordOutput(ctx, map[string]int{"computed": n})
}
