package syncengine

import (
	"context"
	"fmt"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/dedupe"
	"github.com/contactd/contactd/sync/source"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Matcher finds the contacts a record that is not stored is likely to be (dedupe.Engine).
type Matcher interface {
	CheckRecord(ctx context.Context, c *contact.Contact) ([]dedupe.Match, error)
}

// Engine runs sources' syncs. It is safe for concurrent use; one run per source at a time is
// the caller's to guarantee (the job is unique per source).
type Engine struct {
	Sources *source.Store
	Matcher Matcher
	// Connectors build a connector per source type.
	Connectors map[string]NewConnector
}

// Progress receives the run after each committed page.
type Progress func(pages int, st source.Stats)

// Actor is the audit actor of a source's changes to contacts.
func Actor(sourceID uuid.UUID) string { return "sync:" + sourceID.String() }

// Run works a queued run (or resumes a running one from its source's checkpoint) and returns it
// as it ended. A remote failure fails the run, keeping the checkpoint of the last committed
// page, so that the next run resumes there; an error is returned only when the run could not
// be recorded (the job is retried and resumes).
func (e *Engine) Run(ctx context.Context, runID uuid.UUID, progress Progress) (*source.Run, error) {
	run, src, cp, err := e.Sources.BeginRun(ctx, runID)
	if err != nil {
		return nil, err
	}
	if run.Status != source.RunRunning {
		return run, nil
	}
	ctx = contact.WithActor(ctx, Actor(src.ID))
	conn, err := e.connector(src)
	if err != nil {
		return e.Sources.FinishRun(ctx, runID, source.Stats{}, err)
	}
	var total source.Stats
	for pages := 1; ; pages++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		page, err := conn.Changes(ctx, cp)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return e.Sources.FinishRun(ctx, runID, source.Stats{Requests: requestsOf(err)}, fmt.Errorf("page %d: %w", pages, err))
		}
		st := source.Stats{Requests: int64(page.Requests)}
		if err := e.fetchStubs(ctx, conn, src, page, &st); err != nil {
			return e.Sources.FinishRun(ctx, runID, st, fmt.Errorf("page %d: %w", pages, err))
		}
		err = e.Sources.DB().RetryTx(ctx, func(tx pgx.Tx) error {
			pst := st
			pst.Errors = append([]source.RunError(nil), st.Errors...)
			if err := e.applyPage(ctx, tx, src, page.Records, &pst); err != nil {
				return err
			}
			if err := e.Sources.CommitPageTx(ctx, tx, run, page.Checkpoint, pst); err != nil {
				return err
			}
			st = pst
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("syncengine: page %d of run %s: %w", pages, runID, err)
		}
		total.Add(st)
		if progress != nil {
			progress(pages, total)
		}
		cp = page.Checkpoint
		if !page.More {
			break
		}
	}
	return e.Sources.FinishRun(ctx, runID, source.Stats{}, nil)
}

func (e *Engine) connector(src *source.Source) (Connector, error) {
	mk, ok := e.Connectors[src.Type]
	if !ok {
		return nil, fmt.Errorf("no connector for sources of type %s", src.Type)
	}
	secrets, err := e.Sources.Secrets(src)
	if err != nil {
		return nil, err
	}
	return mk(src, secrets)
}

// RequestCounter is implemented by connector errors that know how many requests they took.
type RequestCounter interface{ Requests() int }

func requestsOf(err error) int64 {
	if rc, ok := err.(RequestCounter); ok {
		return int64(rc.Requests())
	}
	return 0
}
