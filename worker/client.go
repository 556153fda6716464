package worker

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/dedupe"
	"github.com/contactd/contactd/importer"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// Config configures the workers.
type Config struct {
	// ScanEvery runs a full duplicate scan periodically; zero never does.
	ScanEvery time.Duration
	// DefaultRegion is the phone region for numbers without a country code, such as "US".
	DefaultRegion string
	// MaxWorkers is how many jobs of each per-contact queue (normalize, duplicate checks) run at
	// once in this process.
	MaxWorkers int
	Logger     *slog.Logger
}

// NewWorkers registers every contactd worker.
func NewWorkers(store *contact.Store, cfg Config) *river.Workers {
	workers := river.NewWorkers()
	river.AddWorker(workers, &NormalizeWorker{Store: store, DefaultRegion: cfg.DefaultRegion})
	river.AddWorker(workers, &ImportWorker{Runner: &importer.Runner{Store: store}})
	engine := &dedupe.Engine{Store: store}
	merge := MergeFunc(store)
	river.AddWorker(workers, &DedupeWorker{Engine: engine, Merge: merge})
	river.AddWorker(workers, &DedupeBatchWorker{Engine: engine, BulkMerge: BulkMergeFunc(store)})
	river.AddWorker(workers, &DedupeScanWorker{Engine: engine, BulkMerge: BulkMergeFunc(store)})
	river.AddWorker(workers, &TrainWorker{Engine: engine})
	return workers
}

// NewClient returns a River client that works contactd's jobs from pool (call Start to run it).
func NewClient(pool *pgxpool.Pool, store *contact.Store, cfg Config) (*river.Client[pgx.Tx], error) {
	if cfg.MaxWorkers <= 0 {
		cfg.MaxWorkers = 100
	}
	var periodic []*river.PeriodicJob
	if cfg.ScanEvery > 0 {
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(cfg.ScanEvery),
			func() (river.JobArgs, *river.InsertOpts) { return contact.DedupeScanArgs{}, nil },
			&river.PeriodicJobOpts{ID: "dedupe_scan"}))
	}
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		PeriodicJobs: periodic,
		Logger:       cfg.Logger,
		Queues: map[string]river.QueueConfig{
			// Per-contact jobs (normalize, then the duplicate check) run one after the other:
			// a short fetch cooldown and poll keep create-to-settled in milliseconds. River
			// announces at most one insert per queue per cooldown, so the checks have a queue of
			// their own (see contact.QueueDedupe).
			river.QueueDefault:  {MaxWorkers: cfg.MaxWorkers, FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond},
			contact.QueueDedupe: {MaxWorkers: cfg.MaxWorkers, FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond},
			// Imports are long and use every core while they run: two at a time per process.
			contact.QueueBulk: {MaxWorkers: 2},
		},
		Workers: NewWorkers(store, cfg),
	})
	if err != nil {
		return nil, fmt.Errorf("worker: river client: %w", err)
	}
	return client, nil
}
