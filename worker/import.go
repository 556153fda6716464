package worker

import (
	"context"
	"fmt"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/importer"
	"github.com/riverqueue/river"
)

// ImportWorker runs an uploaded import, resuming from its committed progress when retried.
type ImportWorker struct {
	river.WorkerDefaults[importer.Args]
	Runner *importer.Runner
}

// Timeout lets an import run as long as it needs; it commits as it goes and honours
// cancellation between batches.
func (w *ImportWorker) Timeout(*river.Job[importer.Args]) time.Duration { return -1 }

// Work runs the import from its stored file.
func (w *ImportWorker) Work(ctx context.Context, job *river.Job[importer.Args]) error {
	ctx = contact.WithActor(ctx, fmt.Sprintf("job:%s:%d", job.Kind, job.ID))
	file := w.Runner.Store.OpenImportFile(ctx, job.Args.ImportID)
	if _, err := w.Runner.Run(ctx, job.Args.ImportID, file); err != nil {
		return fmt.Errorf("import %s: %w", job.Args.ImportID, err)
	}
	return nil
}
