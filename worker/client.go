package worker

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/contactd/contactd/consent"
	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/dedupe"
	"github.com/contactd/contactd/idempotency"
	"github.com/contactd/contactd/importer"
	"github.com/contactd/contactd/internal/app"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/retention"
	"github.com/contactd/contactd/sync/source"
	"github.com/contactd/contactd/webhook"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
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
	// EventsRetention is how long events are kept in the change feed; zero keeps them all.
	EventsRetention time.Duration
}

// NewWorkers registers every contactd worker over the process's stores.
func NewWorkers(a *app.App, cfg Config) *river.Workers {
	workers := river.NewWorkers()
	river.AddWorker(workers, &NormalizeWorker{Store: a.Contacts, DefaultRegion: cfg.DefaultRegion})
	river.AddWorker(workers, &ImportWorker{Runner: &importer.Runner{Store: a.Imports}})
	river.AddWorker(workers, &DedupeWorker{Engine: a.Engine})
	river.AddWorker(workers, &DedupeBatchWorker{Engine: a.Engine})
	river.AddWorker(workers, &DedupeScanWorker{Engine: a.Engine})
	river.AddWorker(workers, &TrainWorker{Engine: a.Engine})
	river.AddWorker(workers, &IdempotencyCleanWorker{Store: a.Idempotency})
	river.AddWorker(workers, &SyncWorker{Engine: a.Sync})
	river.AddWorker(workers, &SyncDueWorker{Sources: a.Sources})
	river.AddWorker(workers, &WebhookWorker{Store: a.Webhooks})
	river.AddWorker(workers, &WebhookReplayWorker{Store: a.Webhooks})
	river.AddWorker(workers, &RetentionWorker{Store: a.Retention})
	river.AddWorker(workers, &RetentionDueWorker{Store: a.Retention})
	river.AddWorker(workers, &RescueWorker{DB: a.DB})
	river.AddWorker(workers, &EventsRetentionWorker{Store: a.Webhooks, Retention: cfg.EventsRetention})
	river.AddWorker(workers, &NameCountsWorker{DB: a.DB})
	river.AddWorker(workers, &ConsentStatesWorker{Store: a.Consent})
	return workers
}

// NewClient returns a River client that works contactd's jobs from pool (call Start to run it).
func NewClient(a *app.App, cfg Config) (*river.Client[pgx.Tx], error) {
	if cfg.MaxWorkers <= 0 {
		cfg.MaxWorkers = 100
	}
	periodic := []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(idempotencyCleanEvery),
		func() (river.JobArgs, *river.InsertOpts) { return idempotency.CleanArgs{}, nil },
		&river.PeriodicJobOpts{ID: "idempotency_clean"})}
	periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(rescueEvery),
		func() (river.JobArgs, *river.InsertOpts) { return RescueArgs{}, nil },
		&river.PeriodicJobOpts{ID: "rescue_orphaned_jobs"}))
	if cfg.EventsRetention > 0 {
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(eventsRetentionEvery),
			func() (river.JobArgs, *river.InsertOpts) { return webhook.RetentionArgs{}, nil },
			&river.PeriodicJobOpts{ID: "events_retention"}))
	}
	if cfg.ScanEvery > 0 {
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(cfg.ScanEvery),
			func() (river.JobArgs, *river.InsertOpts) { return dedupe.ScanArgs{}, nil },
			&river.PeriodicJobOpts{ID: "dedupe_scan"}))
	}
	// Sources are created at run time and River's periodic jobs are fixed at client start: one
	// periodic job a minute queues the runs of every source that is due (SyncDueWorker).
	periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(time.Minute),
		func() (river.JobArgs, *river.InsertOpts) { return source.DueArgs{}, nil },
		&river.PeriodicJobOpts{ID: "sync_due"}))
	periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(nameCountsEvery),
		func() (river.JobArgs, *river.InsertOpts) { return contact.NameCountsArgs{}, nil },
		&river.PeriodicJobOpts{ID: "search_name_counts"}))
	periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(consentStatesEvery),
		func() (river.JobArgs, *river.InsertOpts) { return consent.RefreshStatesArgs{}, nil },
		&river.PeriodicJobOpts{ID: "consent_states", RunOnStart: true}))
	// Retention schedules work the same way: one periodic job queues the due policies' runs.
	periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(time.Minute),
		func() (river.JobArgs, *river.InsertOpts) { return retention.DueArgs{}, nil },
		&river.PeriodicJobOpts{ID: "retention_due"}))
	client, err := river.NewClient(riverpgxv5.New(a.DB.Pool), &river.Config{
		PeriodicJobs: periodic,
		// Jobs with a timeout (a minute at most) whose process died are retried after this;
		// those without one are rescued by their liveness lock (rescue.go).
		RescueStuckJobsAfter: 2 * time.Minute,
		Middleware:           []rivertype.Middleware{liveness(a.DB.Pool)},
		Logger:               cfg.Logger,
		Queues: map[string]river.QueueConfig{
			// Per-contact jobs (normalize, then the duplicate check) run one after the other:
			// a short fetch cooldown and poll keep create-to-settled in milliseconds. River
			// announces at most one insert per queue per cooldown, so the checks have a queue of
			// their own (see db.QueueDedupe).
			river.QueueDefault: {MaxWorkers: cfg.MaxWorkers, FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond},
			db.QueueDedupe:     {MaxWorkers: cfg.MaxWorkers, FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond},
			// Imports are long and use every core while they run: two at a time per process.
			db.QueueBulk: {MaxWorkers: 2},
			// One job per webhook's ordered stream: this many webhooks are delivered to at once.
			webhook.Queue: {MaxWorkers: 20, FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond},
		},
		Workers: NewWorkers(a, cfg),
	})
	if err != nil {
		return nil, fmt.Errorf("worker: river client: %w", err)
	}
	return client, nil
}
