package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/dedupe"
	"github.com/google/uuid"
	"github.com/riverqueue/river"
)

// DedupeWorker checks one contact for duplicates after its keys were written.
type DedupeWorker struct {
	river.WorkerDefaults[dedupe.CheckArgs]
	Engine *dedupe.Engine
}

// Work checks the contact and records what it did as the job's output.
func (w *DedupeWorker) Work(ctx context.Context, job *river.Job[dedupe.CheckArgs]) error {
	ctx = contact.WithActor(ctx, "job:"+job.Kind)
	out, err := w.Engine.CheckContact(ctx, job.Args.ContactID)
	if err != nil {
		return fmt.Errorf("dedupe contact %s: %w", job.Args.ContactID, err)
	}
	return river.RecordOutput(ctx, out)
}

// DedupeBatchWorker keys and checks the contacts an import batch wrote.
type DedupeBatchWorker struct {
	river.WorkerDefaults[dedupe.BatchArgs]
	Engine *dedupe.Engine
}

// Timeout lets a batch take as long as it needs.
func (w *DedupeBatchWorker) Timeout(*river.Job[dedupe.BatchArgs]) time.Duration { return -1 }

// Work rekeys the batch's contacts in one transaction, then checks them together.
func (w *DedupeBatchWorker) Work(ctx context.Context, job *river.Job[dedupe.BatchArgs]) error {
	ctx = contact.WithActor(ctx, "job:"+job.Kind)
	var ids []uuid.UUID
	if job.Args.From != uuid.Nil {
		created, err := w.Engine.Contacts.ContactIDsBetween(ctx, job.Args.From, job.Args.To)
		if err != nil {
			return err
		}
		ids = created
	}
	ids = append(ids, job.Args.Updated...)
	if err := w.Engine.Rekey(ctx, ids); err != nil {
		return err
	}
	out, err := w.Engine.CheckBatch(ctx, ids)
	if err != nil {
		return fmt.Errorf("dedupe batch: %w", err)
	}
	return river.RecordOutput(ctx, out)
}

// DedupeScanWorker runs a full scan (dedupe.Engine.RunScan).
type DedupeScanWorker struct {
	river.WorkerDefaults[dedupe.ScanArgs]
	Engine *dedupe.Engine
}

// Timeout lets a scan take as long as it needs.
func (w *DedupeScanWorker) Timeout(*river.Job[dedupe.ScanArgs]) time.Duration { return -1 }

// Work runs the scan, recording its statistics on the run as it goes and as the job's output.
// While a scan started elsewhere (`contactd dedupe --wait`) runs, it waits a minute and tries
// again.
func (w *DedupeScanWorker) Work(ctx context.Context, job *river.Job[dedupe.ScanArgs]) error {
	ctx = contact.WithActor(ctx, "job:"+job.Kind)
	_, stats, err := w.Engine.RunScan(ctx, job.Args.RunID, nil)
	if errors.Is(err, dedupe.ErrScanRunning) {
		return river.JobSnooze(time.Minute)
	}
	if err != nil {
		return err
	}
	return river.RecordOutput(ctx, stats)
}

// TrainWorker retrains the matcher on the live contacts.
type TrainWorker struct {
	river.WorkerDefaults[dedupe.TrainArgs]
	Engine *dedupe.Engine
}

// Timeout lets training take as long as it needs.
func (w *TrainWorker) Timeout(*river.Job[dedupe.TrainArgs]) time.Duration { return -1 }

// Work trains and stores a new model version.
func (w *TrainWorker) Work(ctx context.Context, job *river.Job[dedupe.TrainArgs]) error {
	ctx = contact.WithActor(ctx, "job:"+job.Kind)
	v, err := w.Engine.Train(ctx)
	if err != nil {
		return err
	}
	return river.RecordOutput(ctx, map[string]int{"modelVersion": v})
}
