package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/runs"
	"github.com/contactd/contactd/sync/source"
	"github.com/google/uuid"
	"github.com/mattn/go-isatty"
)

// runSync queues a run of a sync source and, with --wait, follows it until it ends (the workers
// of `serve` or `worker` work it), with a progress line on a terminal.
func runSync(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	fs := newFlags("sync", stdout)
	id := fs.String("source", "", "the id of the source to sync (required)")
	full := fs.Bool("full", false, "forget the checkpoint and pull everything again")
	allowEmpty := fs.Bool("allow-empty", false, "let a full sync find a source that had records empty (and archive their contacts)")
	wait := fs.Bool("wait", false, "wait for the run to end and print what it did")
	poll := fs.Duration("poll", 500*time.Millisecond, "how often --wait looks at the run")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	sourceID, err := uuid.Parse(*id)
	if err != nil {
		return errors.New("sync: --source must be a source id")
	}
	a, closeFn, err := openApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeFn()
	ctx = contact.WithActor(ctx, "cli:sync")
	run, started, err := a.Sources.StartRunWith(ctx, sourceID, source.RunOptions{Full: *full, AllowEmpty: *allowEmpty})
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	if started {
		say(stdout, "queued sync run %s of source %s\n", run.ID, sourceID)
	} else {
		say(stdout, "source %s already has run %s %s; following it\n", sourceID, run.ID, run.Status)
	}
	if !*wait {
		say(stdout, "follow it with GET /api/sources/%s/runs/%s\n", sourceID, run.ID)
		return nil
	}
	tty := false
	if f, ok := stdout.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		tty = true
	}
	start := time.Now()
	err = follow(ctx, stdout, *poll, "run "+run.ID.String(), func() (runs.Status, error) {
		if run, err = a.Sources.GetRun(ctx, sourceID, run.ID); err != nil {
			return "", fmt.Errorf("sync: %w", err)
		}
		if tty {
			say(stdout, "\r%s", progressLine(run, time.Since(start)))
		}
		return run.Status, nil
	})
	if err != nil {
		return err
	}
	if tty {
		say(stdout, "\n")
	} else {
		say(stdout, "%s\n", progressLine(run, time.Since(start)))
	}
	for _, e := range run.Stats.Errors {
		say(stdout, "  %s: %s\n", e.Ref, e.Message)
	}
	if run.Status == runs.Failed {
		return fmt.Errorf("sync: run %s failed", run.ID)
	}
	return nil
}

func progressLine(r *source.Run, took time.Duration) string {
	st := r.Stats
	return fmt.Sprintf("sync %s %-9s %6.1fs  pulled %d, created %d, updated %d, linked %d, deleted %d, pushed %d, conflicts %d, errors %d, requests %d",
		r.ID, r.Status, took.Seconds(), st.Pulled, st.Created, st.Updated, st.Linked, st.Deleted, st.Pushed, st.Conflicts, len(st.Errors), st.Requests)
}

// follow polls a queued run until it has ended: get reads it (and shows what the caller wants
// shown) and returns its status. A run still queued after 30 seconds gets one hint that no
// worker may be running.
func follow(ctx context.Context, stdout io.Writer, poll time.Duration, name string, get func() (runs.Status, error)) error {
	start := time.Now()
	hinted := false
	for {
		st, err := get()
		if err != nil {
			return err
		}
		if st.Done() {
			return nil
		}
		if st == runs.Queued && !hinted && time.Since(start) > 30*time.Second {
			hinted = true
			say(stdout, "\nno worker has picked %s up yet: is `contactd serve` or `contactd worker` running?\n", name)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}
