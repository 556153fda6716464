package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/dedupe"
	"github.com/contactd/contactd/worker"
)

// runDedupe starts a full duplicate scan: queued for the workers, or with --wait run here,
// printing its progress and statistics.
func runDedupe(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	fs := newFlags("dedupe", stdout)
	wait := fs.Bool("wait", false, "run the scan in this process and wait for it (default: queue it for the workers)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	store, closeFn, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeFn()
	ctx = contact.WithActor(ctx, "cli:dedupe")
	if !*wait {
		run, err := store.CreateDedupeRun(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "queued dedupe run %s; follow it with GET /api/dedupe/runs/%s\n", run.ID, run.ID)
		return nil
	}
	run, err := store.CreateDedupeRunRecord(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "dedupe run %s\n", run.ID)
	engine := &dedupe.Engine{Store: store}
	start := time.Now()
	if _, err := store.UpdateDedupeRun(ctx, run.ID, "running", nil, map[string]any{}, ""); err != nil {
		return err
	}
	stats, err := engine.Scan(ctx, worker.BulkMergeFunc(store), func(stage string, st dedupe.ScanStats) {
		fmt.Fprintf(stdout, "%-8s %7.1fs  contacts %d, candidate pairs %d, merges %d, reviews %d\n",
			stage, time.Since(start).Seconds(), st.Contacts, st.CandidatePairs, st.Merges, st.ReviewsOpened)
		_, _ = store.UpdateDedupeRun(ctx, run.ID, "running", nil, st, "")
	})
	version := &stats.ModelVersion
	if stats.ModelVersion == 0 {
		version = nil
	}
	if err != nil {
		_, _ = store.UpdateDedupeRun(context.WithoutCancel(ctx), run.ID, "failed", version, stats, err.Error())
		return fmt.Errorf("dedupe: %w", err)
	}
	if _, err := store.UpdateDedupeRun(ctx, run.ID, "succeeded", version, stats, ""); err != nil {
		return err
	}
	open, err := store.CountReviews(ctx, "open")
	if err != nil {
		return err
	}
	out, _ := json.MarshalIndent(stats, "", "  ")
	fmt.Fprintf(stdout, "done in %s; open review items: %d\n%s\n", time.Since(start).Round(time.Millisecond), open, out)
	return nil
}

// runTrain trains the matcher on the active contacts and stores it as the newest version.
func runTrain(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	if err := parseFlags(newFlags("train", stdout), args); err != nil {
		return err
	}
	store, closeFn, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeFn()
	start := time.Now()
	v, err := (&dedupe.Engine{Store: store}).Train(contact.WithActor(ctx, "cli:train"))
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	fmt.Fprintf(stdout, "trained matcher model version %d in %s; workers use it from now on\n", v, time.Since(start).Round(time.Millisecond))
	return nil
}
