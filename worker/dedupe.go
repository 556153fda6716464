package worker

import (
	"context"
	"fmt"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/dedupe"
	"github.com/google/uuid"
	"github.com/riverqueue/river"
)

// DedupeWorker checks one contact for duplicates after its keys were written.
type DedupeWorker struct {
	river.WorkerDefaults[contact.DedupeArgs]
	Engine *dedupe.Engine
	Merge  dedupe.MergeFunc
}

// Work checks the contact and records what it did as the job's output.
func (w *DedupeWorker) Work(ctx context.Context, job *river.Job[contact.DedupeArgs]) error {
	ctx = contact.WithActor(ctx, "job:"+job.Kind)
	out, err := w.Engine.CheckContact(ctx, job.Args.ContactID, w.Merge)
	if err != nil {
		return fmt.Errorf("dedupe contact %s: %w", job.Args.ContactID, err)
	}
	return river.RecordOutput(ctx, out)
}

// DedupeBatchWorker keys and checks the contacts an import batch wrote.
type DedupeBatchWorker struct {
	river.WorkerDefaults[contact.DedupeBatchArgs]
	Engine    *dedupe.Engine
	BulkMerge dedupe.BulkMergeFunc
}

// Timeout lets a batch take as long as it needs.
func (w *DedupeBatchWorker) Timeout(*river.Job[contact.DedupeBatchArgs]) time.Duration { return -1 }

// Work rekeys the batch's contacts in one transaction, then checks them together.
func (w *DedupeBatchWorker) Work(ctx context.Context, job *river.Job[contact.DedupeBatchArgs]) error {
	ctx = contact.WithActor(ctx, "job:"+job.Kind)
	var ids []uuid.UUID
	if job.Args.From != uuid.Nil {
		created, err := w.Engine.Store.ContactIDsBetween(ctx, job.Args.From, job.Args.To)
		if err != nil {
			return err
		}
		ids = created
	}
	ids = append(ids, job.Args.Updated...)
	if err := w.Engine.Store.RekeyContacts(ctx, ids); err != nil {
		return err
	}
	out, err := w.Engine.CheckBatch(ctx, ids, w.BulkMerge)
	if err != nil {
		return fmt.Errorf("dedupe batch: %w", err)
	}
	return river.RecordOutput(ctx, out)
}

// DedupeScanWorker runs a full scan. It merges the clusters with BulkMerge; without one it only
// proposes reviews.
type DedupeScanWorker struct {
	river.WorkerDefaults[contact.DedupeScanArgs]
	Engine    *dedupe.Engine
	BulkMerge dedupe.BulkMergeFunc
}

// Timeout lets a scan take as long as it needs.
func (w *DedupeScanWorker) Timeout(*river.Job[contact.DedupeScanArgs]) time.Duration { return -1 }

// Work runs the scan, recording its statistics on the run as it goes and as the job's output.
func (w *DedupeScanWorker) Work(ctx context.Context, job *river.Job[contact.DedupeScanArgs]) error {
	ctx = contact.WithActor(ctx, "job:"+job.Kind)
	store := w.Engine.Store
	runID := job.Args.RunID
	if runID == uuid.Nil {
		run, err := store.CreateDedupeRunRecord(ctx)
		if err != nil {
			return err
		}
		runID = run.ID
	}
	if _, err := store.UpdateDedupeRun(ctx, runID, "running", nil, map[string]any{}, ""); err != nil {
		return err
	}
	stats, err := w.Engine.Scan(ctx, w.BulkMerge, func(stage string, st dedupe.ScanStats) {
		_, _ = store.UpdateDedupeRun(ctx, runID, "running", nil, st, "")
	})
	version := &stats.ModelVersion
	if stats.ModelVersion == 0 {
		version = nil
	}
	if err != nil {
		_, _ = store.UpdateDedupeRun(context.WithoutCancel(ctx), runID, "failed", version, stats, err.Error())
		return fmt.Errorf("dedupe scan %s: %w", runID, err)
	}
	if _, err := store.UpdateDedupeRun(ctx, runID, "succeeded", version, stats, ""); err != nil {
		return err
	}
	return river.RecordOutput(ctx, stats)
}

// TrainWorker retrains the matcher on the live contacts.
type TrainWorker struct {
	river.WorkerDefaults[contact.TrainArgs]
	Engine *dedupe.Engine
}

// Timeout lets training take as long as it needs.
func (w *TrainWorker) Timeout(*river.Job[contact.TrainArgs]) time.Duration { return -1 }

// Work trains and stores a new model version.
func (w *TrainWorker) Work(ctx context.Context, job *river.Job[contact.TrainArgs]) error {
	ctx = contact.WithActor(ctx, "job:"+job.Kind)
	v, err := w.Engine.Train(ctx)
	if err != nil {
		return err
	}
	return river.RecordOutput(ctx, map[string]int{"modelVersion": v})
}
