package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/runs"
	"github.com/contactd/contactd/retention"
	"github.com/google/uuid"
)

// runRetention runs one retention policy (--policy) or every one: with --dry-run it prints what
// each would change now and changes nothing; otherwise it queues their runs and, with --wait,
// follows them until they end (the workers of `serve` or `worker` work them).
func runRetention(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	fs := newFlags("retention", stdout)
	id := fs.String("policy", "", "the id of the policy to run (default: every policy)")
	dry := fs.Bool("dry-run", false, "print what each policy would change now, changing nothing")
	wait := fs.Bool("wait", false, "wait for the runs to end and print what they did")
	poll := fs.Duration("poll", 500*time.Millisecond, "how often --wait looks at the runs")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	a, closeFn, err := openApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeFn()
	ctx = contact.WithActor(ctx, "cli:retention")
	var policies []*retention.Policy
	if *id != "" {
		pid, err := uuid.Parse(*id)
		if err != nil {
			return errors.New("retention: --policy must be a policy id")
		}
		p, err := a.Retention.Get(ctx, pid)
		if err != nil {
			return fmt.Errorf("retention: %w", err)
		}
		policies = []*retention.Policy{p}
	} else if policies, err = a.Retention.List(ctx); err != nil {
		return fmt.Errorf("retention: %w", err)
	}
	if len(policies) == 0 {
		say(stdout, "no retention policies\n")
		return nil
	}
	if *dry {
		for _, p := range policies {
			r, err := a.Retention.DryRun(ctx, p.ID)
			if err != nil {
				return fmt.Errorf("retention: policy %s: %w", p.ID, err)
			}
			say(stdout, "policy %s (%s, %s): %d contacts would change\n", p.ID, p.Name, p.Action, r.Matched)
			for _, cid := range r.ContactIDs {
				say(stdout, "  %s\n", cid)
			}
			if int64(len(r.ContactIDs)) < r.Matched {
				say(stdout, "  ... and %d more\n", r.Matched-int64(len(r.ContactIDs)))
			}
		}
		return nil
	}
	queued := make([]*retention.Run, 0, len(policies))
	for _, p := range policies {
		run, started, err := a.Retention.StartRun(ctx, p.ID)
		if err != nil {
			return fmt.Errorf("retention: policy %s: %w", p.ID, err)
		}
		if started {
			say(stdout, "queued run %s of policy %s (%s)\n", run.ID, p.ID, p.Name)
		} else {
			say(stdout, "policy %s already has run %s %s; following it\n", p.ID, run.ID, run.Status)
		}
		queued = append(queued, run)
	}
	if !*wait {
		for _, r := range queued {
			say(stdout, "follow it with GET /api/retention-policies/%s/runs/%s\n", r.PolicyID, r.ID)
		}
		return nil
	}
	start := time.Now()
	failed := 0
	for _, r := range queued {
		err := follow(ctx, stdout, *poll, "run "+r.ID.String(), func() (runs.Status, error) {
			if r, err = a.Retention.GetRun(ctx, r.PolicyID, r.ID); err != nil {
				return "", fmt.Errorf("retention: %w", err)
			}
			return r.Status, nil
		})
		if err != nil {
			return err
		}
		say(stdout, "run %s of policy %s %s in %.1fs: %s %d of %d matched contacts\n", r.ID, r.PolicyID, r.Status,
			time.Since(start).Seconds(), r.Action, r.Processed, r.Matched)
		if r.Error != nil {
			failed++
			say(stdout, "  %s\n", *r.Error)
		}
	}
	if failed > 0 {
		return fmt.Errorf("retention: %d runs failed", failed)
	}
	return nil
}
