package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/dedupe"
)

// runDedupe starts a full duplicate scan: queued for the workers, or with --wait run here,
// printing its progress and statistics.
func runDedupe(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	fs := newFlags("dedupe", stdout)
	wait := fs.Bool("wait", false, "run the scan in this process and wait for it (default: queue it for the workers)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	a, closeFn, err := openApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeFn()
	ctx = contact.WithActor(ctx, "cli:dedupe")
	if !*wait {
		run, err := a.Dedupe.CreateRun(ctx)
		if err != nil {
			return err
		}
		say(stdout, "queued dedupe run %s; follow it with GET /api/dedupe/runs/%s\n", run.ID, run.ID)
		return nil
	}
	start := time.Now()
	run, stats, err := a.Engine.RunScan(ctx, uuid.Nil, func(stage string, st dedupe.ScanStats) {
		say(stdout, "%-8s %7.1fs  contacts %d, candidate pairs %d, merges %d, reviews %d\n",
			stage, time.Since(start).Seconds(), st.Contacts, st.CandidatePairs, st.Merges, st.ReviewsOpened)
	})
	if err != nil {
		return fmt.Errorf("dedupe: %w", err)
	}
	open, err := a.Dedupe.CountReviews(ctx, "open")
	if err != nil {
		return err
	}
	out, err := json.MarshalIndent(stats, "", "  ")
	if err != nil {
		return err
	}
	say(stdout, "dedupe run %s done in %s; open review items: %d\n%s\n", run.ID, time.Since(start).Round(time.Millisecond), open, out)
	return nil
}

// runTrain trains the matcher on the active contacts and stores it as the newest version.
func runTrain(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	if err := parseFlags(newFlags("train", stdout), args); err != nil {
		return err
	}
	a, closeFn, err := openApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeFn()
	start := time.Now()
	v, err := a.Engine.Train(contact.WithActor(ctx, "cli:train"))
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	say(stdout, "trained matcher model version %d in %s; workers use it from now on\n", v, time.Since(start).Round(time.Millisecond))
	return nil
}
