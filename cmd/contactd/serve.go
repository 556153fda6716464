package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/contactd/contactd/sync/source"

	"github.com/contactd/contactd/api"
	"github.com/contactd/contactd/internal/app"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/migrations"
	"github.com/contactd/contactd/webhook"
	"github.com/contactd/contactd/worker"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/riverqueue/river"
	"riverqueue.com/riverui"
)

func connect(ctx context.Context, cfg config) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	if pc.MaxConns < 20 {
		// Enough for the HTTP handlers and the workers of one process on a small machine;
		// pool_max_conns in DATABASE_URL overrides it upwards.
		pc.MaxConns = 20
	}
	pc.AfterConnect = db.AfterConnect
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to %s: %w", redactURL(cfg.DatabaseURL), err)
	}
	return pool, nil
}

// redactURL hides a password in a connection string for messages.
func redactURL(s string) string {
	pc, err := pgx.ParseConfig(s)
	if err != nil {
		return "the database"
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s", pc.User, pc.Host, pc.Port, pc.Database)
}

// migrateAndConnect creates and migrates the database, then returns a pool on it.
func migrateAndConnect(ctx context.Context, cfg config) (*pgxpool.Pool, error) {
	if err := migrations.CreateDatabase(ctx, cfg.DatabaseURL); err != nil {
		return nil, err
	}
	pool, err := connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := migrations.Up(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

// checkSecrets warns about what cannot be sealed without CONTACTD_SECRET_KEY and, with it,
// seals the webhook secrets still stored plain.
func checkSecrets(ctx context.Context, cfg config, a *app.App, logger *slog.Logger) error {
	if cfg.Sealer == nil {
		logger.Warn("no " + source.KeyEnv + ": sync sources with secrets cannot be created or run, and webhook secrets are stored unencrypted")
		return nil
	}
	n, err := a.Webhooks.SealPlain(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		logger.Info("sealed webhook secrets stored unencrypted", "webhooks", n)
	}
	return nil
}

// startWorkers starts a River client working contactd's jobs and the webhook dispatcher, both
// until ctx ends.
func startWorkers(ctx context.Context, cfg config, a *app.App, logger *slog.Logger) (*river.Client[pgx.Tx], error) {
	client, err := worker.NewClient(a, worker.Config{
		DefaultRegion: cfg.DefaultRegion, MaxWorkers: cfg.MaxWorkers, Logger: logger, ScanEvery: cfg.ScanEvery,
		EventsRetention: cfg.EventsRetention,
	})
	if err != nil {
		return nil, err
	}
	if err := client.Start(ctx); err != nil {
		return nil, fmt.Errorf("start workers: %w", err)
	}
	go (&webhook.Dispatcher{DB: a.DB, Logger: logger}).Run(ctx)
	return client, nil
}

// stopWorkers lets running jobs finish for a while, then cancels them.
func stopWorkers(client *river.Client[pgx.Tx], logger *slog.Logger) {
	soft, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.Stop(soft); err != nil {
		logger.Warn("workers did not stop in time; cancelling their jobs", "err", err)
		hard, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := client.StopAndCancel(hard); err != nil {
			logger.Error("workers did not stop after their jobs were cancelled", "err", err)
		}
	}
}

func runServe(ctx context.Context, cfg config, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address (CONTACTD_ADDR)")
	noWorkers := false
	fs.BoolVar(&noWorkers, "no-workers", false, "serve the API only; jobs are worked by contactd worker processes")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	logger := newLogger(stderr, cfg.LogLevel)
	pool, err := migrateAndConnect(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	a, err := newApp(pool, cfg)
	if err != nil {
		return err
	}
	if err := checkSecrets(ctx, cfg, a, logger); err != nil {
		return err
	}
	if cfg.SuppressionKey == "" {
		logger.Warn("CONTACTD_SUPPRESSION_KEY is not set: the suppression list is keyed with a random key of this process, so erased and withdrawn people are recognized only by this process until it restarts")
	}
	if cfg.UnsubscribeKey == "" {
		logger.Warn("CONTACTD_UNSUBSCRIBE_KEY is not set: unsubscribe links are signed with a random key of this process and stop working when it restarts or on other processes")
	} else if err := a.Consent.SetUnsubscribeKey([]byte(cfg.UnsubscribeKey)); err != nil {
		return fmt.Errorf("CONTACTD_UNSUBSCRIBE_KEY: %w", err)
	}
	if !noWorkers {
		client, err := startWorkers(ctx, cfg, a, logger)
		if err != nil {
			return err
		}
		defer stopWorkers(client, logger)
	}

	ui, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(a.DB.Jobs, nil), Logger: logger, Prefix: "/riverui",
	})
	if err != nil {
		return fmt.Errorf("river UI: %w", err)
	}
	if err := ui.Start(ctx); err != nil {
		return fmt.Errorf("start the river UI: %w", err)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	handler := api.NewRouter(api.Config{
		App: a, Logger: logger, Registry: reg, DefaultRegion: cfg.DefaultRegion, PublicURL: cfg.PublicURL,
		RateLimit: cfg.RateLimit, RateBurst: cfg.RateBurst, RiverUI: ui,
		Ready: func(ctx context.Context) error {
			if err := a.DB.Ping(ctx); err != nil {
				return fmt.Errorf("database unreachable: %w", err)
			}
			current, err := migrations.Current(ctx, pool)
			if err != nil {
				return fmt.Errorf("cannot read the schema version: %w", err)
			}
			if !current {
				return errors.New("schema is not current: run contactd migrate")
			}
			return nil
		},
	})
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	say(stdout, "contactd listening on http://%s\n", ln.Addr())
	logger.Info("serving", "addr", ln.Addr().String())

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

func runWorker(ctx context.Context, cfg config, args []string, stderr io.Writer) error {
	if err := parseFlags(newFlags("worker", stderr), args); err != nil {
		return err
	}
	logger := newLogger(stderr, cfg.LogLevel)
	pool, err := connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	current, err := migrations.Current(ctx, pool)
	if err != nil {
		return err
	}
	if !current {
		return errors.New("the database schema is not current: run contactd migrate first")
	}
	a, err := newApp(pool, cfg)
	if err != nil {
		return err
	}
	if err := checkSecrets(ctx, cfg, a, logger); err != nil {
		return err
	}
	if cfg.SuppressionKey == "" {
		logger.Warn("CONTACTD_SUPPRESSION_KEY is not set: the suppression list is keyed with a random key of this process, so erased and withdrawn people are recognized only by this process until it restarts")
	}
	client, err := startWorkers(ctx, cfg, a, logger)
	if err != nil {
		return err
	}
	logger.Info("working jobs", "max_workers", cfg.MaxWorkers)
	<-ctx.Done()
	stopWorkers(client, logger)
	return nil
}

func runMigrate(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	if err := parseFlags(newFlags("migrate", stdout), args); err != nil {
		return err
	}
	pool, err := migrateAndConnect(ctx, cfg)
	if err != nil {
		return err
	}
	pool.Close()
	say(stdout, "migrated %s\n", redactURL(cfg.DatabaseURL))
	return nil
}
