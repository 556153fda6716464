package worker

import (
	"context"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"
	"github.com/riverqueue/river"
)

// nameCountsEvery is how often search's name counts are refreshed besides after large imports:
// names created through the API and sync count from the next refresh.
const nameCountsEvery = time.Hour

// NameCountsWorker refreshes search's name counts (contact.RefreshNameCounts).
type NameCountsWorker struct {
	river.WorkerDefaults[contact.NameCountsArgs]
	DB *db.DB
}

// Work recounts the names and records how many changed.
func (w *NameCountsWorker) Work(ctx context.Context, job *river.Job[contact.NameCountsArgs]) error {
	n, err := contact.RefreshNameCounts(ctx, w.DB.Pool)
	if err != nil {
		return err
	}
	return river.RecordOutput(ctx, map[string]int64{"changed": n})
}
