package worker

import (
	"context"
	"fmt"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// NormalizeWorker writes a contact's normalized email and phone.
type NormalizeWorker struct {
	river.WorkerDefaults[contact.NormalizeArgs]
	Store *contact.Store
	// DefaultRegion is the ISO 3166 region for phone numbers without a country code.
	DefaultRegion string
}

// Timeout bounds one normalization.
func (w *NormalizeWorker) Timeout(*river.Job[contact.NormalizeArgs]) time.Duration {
	return 30 * time.Second
}

// Work normalizes the contact and completes the job in the same transaction.
func (w *NormalizeWorker) Work(ctx context.Context, job *river.Job[contact.NormalizeArgs]) error {
	ctx = contact.WithActor(ctx, "job:"+job.Kind)
	err := w.Store.Normalize(ctx, job.Args.ContactID, w.DefaultRegion, func(tx pgx.Tx) error {
		_, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job)
		return err
	})
	if err != nil {
		return fmt.Errorf("normalize contact %s: %w", job.Args.ContactID, err)
	}
	return nil
}
