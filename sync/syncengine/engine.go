package syncengine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/dedupe"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/internal/runs"
	"github.com/contactd/contactd/sync/source"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Matcher finds the contacts a record that is not stored is likely to be (dedupe.Engine).
type Matcher interface {
	CheckRecord(ctx context.Context, c *contact.Contact) ([]dedupe.Match, error)
}

// Tagger reads and writes contacts' tags (tag.Store).
type Tagger interface {
	contact.Tagger
	// AddManyTx gives each of the contacts every tag named, auditing into a.
	AddManyTx(ctx context.Context, tx pgx.Tx, a *contact.Audit, contactIDs []uuid.UUID, names []string) error
}

// Engine runs sources' syncs. It is safe for concurrent use; one run per source at a time is
// the caller's to guarantee (the job is unique per source).
type Engine struct {
	Sources *source.Store
	Matcher Matcher
	Tags    Tagger
	// Connectors build a connector per source type.
	Connectors map[string]NewConnector
	// Suppressor, when set, refuses records that would create a suppressed person (erased, or
	// withdrawn from everything): each is a run error "suppressed". DefaultRegion reads their
	// phones.
	Suppressor    contact.Suppressor
	DefaultRegion string
}

// Progress receives the run after each committed page.
type Progress func(pages int, st source.Stats)

// Actor is the audit actor of a source's changes to contacts.
func Actor(sourceID uuid.UUID) string { return "sync:" + sourceID.String() }

// ErrEmptySource fails a full sync that finds a source empty which had records, unless the
// run allows it (?allowEmpty=true): a lost address book or a wrong URL must not archive every
// linked contact.
var ErrEmptySource = errors.New("the source returned no records on a full sync but has linked records; " +
	"nothing was archived. If the remote really is empty, run again with full=true&allowEmpty=true")

// Run works a queued run (or resumes a running one from its source's checkpoint) and returns it
// as it ended: it pulls the changes page by page (direction pull or both), then pushes the
// local ones (push or both). A remote failure fails the run, keeping the checkpoint of the last
// committed page, so that the next run resumes there; an error is returned only when the run
// could not be recorded (the job is retried and resumes).
func (e *Engine) Run(ctx context.Context, runID uuid.UUID, progress Progress) (*source.Run, error) {
	run, src, cp, err := e.Sources.BeginRun(ctx, runID)
	if err != nil {
		return nil, err
	}
	if run.Status != runs.Running {
		return run, nil
	}
	ctx = contact.WithActor(ctx, Actor(src.ID))
	conn, err := e.connector(src)
	if err != nil {
		return e.Sources.FinishRun(ctx, runID, source.Stats{}, err)
	}
	var total source.Stats
	if src.Direction != source.Push {
		extra, err := e.pull(ctx, conn, run, src, cp, &total, progress)
		if err != nil {
			return nil, err
		}
		if extra != nil {
			return e.Sources.FinishRun(ctx, runID, extra.st, extra.err)
		}
	}
	if src.Direction == source.Pull {
		return e.Sources.FinishRun(ctx, runID, source.Stats{}, nil)
	}
	// Push, and again while merges or undos asked for one meanwhile (they queue a run, but
	// this one is under way), at most maxPushRounds times.
	for round := 1; ; round++ {
		seen, err := e.Sources.PushRequests(ctx, src.ID)
		if err != nil {
			return nil, err
		}
		st, err := e.push(ctx, conn, src)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return e.Sources.FinishRun(ctx, runID, st, fmt.Errorf("push: %w", err))
		}
		if err := e.Sources.DB().InTx(ctx, func(tx pgx.Tx) error { return e.Sources.AddStatsTx(ctx, tx, run.ID, st) }); err != nil {
			return nil, err
		}
		total.Add(st)
		if progress != nil {
			progress(0, total)
		}
		if round == maxPushRounds {
			out, err := e.Sources.FinishRun(ctx, runID, source.Stats{}, nil)
			if err != nil {
				return out, err
			}
			// A merge during this last round found the run under way and queued nothing: now
			// that it has ended, queue the next run for it (a source without a schedule has no
			// other).
			now, err := e.Sources.PushRequests(ctx, src.ID)
			if err == nil && now != seen {
				_, _, err = e.Sources.StartRun(ctx, src.ID, false)
			}
			return out, err
		}
		out, again, err := e.Sources.FinishPushRun(ctx, runID, src.ID, seen)
		if err != nil || !again {
			return out, err
		}
	}
}

// maxPushRounds bounds how many times one run pushes for merges made while it pushed; what a
// steady stream of merges asks after that waits for the next run.
const maxPushRounds = 5

// failure ends a run as failed with what the failed step did.
type failure struct {
	st  source.Stats
	err error
}

// pull applies the remote's changes page by page, then, after a full listing, archives the
// linked contacts of the records no page listed. It returns a failure to end the run with, or
// an error when the run could not be recorded.
func (e *Engine) pull(ctx context.Context, conn Connector, run *source.Run, src *source.Source, cp json.RawMessage, total *source.Stats, progress Progress) (*failure, error) {
	fromStart := cp == nil
	p := &pass{src: src, run: run}
	for pages := 1; ; pages++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		page, err := conn.Changes(ctx, cp)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return &failure{source.Stats{Requests: requestsOf(err)}, fmt.Errorf("page %d: %w", pages, err)}, nil
		}
		if page.Listing && (fromStart || page.Restart) {
			p.listing = true
		}
		st := source.Stats{Requests: int64(page.Requests)}
		st.Errors = append(st.Errors, page.Notes...)
		if err := e.fetchStubs(ctx, conn, src, page, &st); err != nil {
			return &failure{st, fmt.Errorf("page %d: %w", pages, err)}, nil
		}
		noted(page, &st)
		err = e.Sources.DB().RetryTx(ctx, func(tx pgx.Tx) error {
			pst := st
			pst.Errors = append([]source.RunError(nil), st.Errors...)
			if err := e.applyPage(ctx, tx, p, page.Records, &pst); err != nil {
				return err
			}
			if err := e.Sources.CommitPageTx(ctx, tx, run, page.Checkpoint, pst); err != nil {
				return err
			}
			st = pst
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("syncengine: page %d of run %s: %w", pages, run.ID, err)
		}
		total.Add(st)
		if progress != nil {
			progress(pages, *total)
		}
		cp = page.Checkpoint
		if !page.More {
			break
		}
	}
	if !fromStart && !run.Full && !p.listing {
		return nil, nil
	}
	empty, err := e.foundEmpty(ctx, run, p.listing)
	if err != nil {
		return nil, err
	}
	if empty && !run.AllowEmpty {
		return &failure{err: ErrEmptySource}, nil
	}
	if p.listing {
		return nil, e.sweep(ctx, p, total, progress)
	}
	return nil, nil
}

// noted reports the page's record notes (Record.Note) on the run. A record that is only a note
// (no values: a card that does not parse) becomes a stub, so that a listing counts it as seen
// and nothing is applied from it: nothing the remote holds is dropped silently or swept.
func noted(page *Page, st *source.Stats) {
	for i := range page.Records {
		r := &page.Records[i]
		if r.Note == "" {
			continue
		}
		st.Errors = append(st.Errors, source.RunError{Ref: r.RemoteID, Message: r.Note})
		if r.Values == nil && !r.Deleted {
			r.Stub = true
		}
	}
}

// foundEmpty says a full sync found nothing where the source has live links.
func (e *Engine) foundEmpty(ctx context.Context, run *source.Run, listing bool) (bool, error) {
	live, err := e.Sources.LiveLinks(ctx, run.SourceID)
	if err != nil || live == 0 {
		return false, err
	}
	now, err := e.Sources.GetRun(ctx, run.SourceID, run.ID)
	if err != nil {
		return false, err
	}
	if now.Stats.Pulled > 0 {
		return false, nil
	}
	if !listing {
		return true, nil
	}
	seen, err := e.Sources.SeenBy(ctx, run.SourceID, run.ID)
	return seen == 0, err
}

// sweep archives the linked contacts of the records a full listing did not list.
func (e *Engine) sweep(ctx context.Context, p *pass, total *source.Stats, progress Progress) error {
	for {
		var st source.Stats
		n := 0
		err := e.Sources.DB().RetryTx(ctx, func(tx pgx.Tx) error {
			st = source.Stats{}
			gone, err := source.UnseenTx(ctx, tx, p.src.ID, p.run.ID, 500)
			if err != nil {
				return err
			}
			n = len(gone)
			for _, l := range gone {
				if err := e.applyOne(ctx, tx, p.src, l, &Record{RemoteID: l.RemoteID, Deleted: true}, &st); err != nil {
					return err
				}
			}
			return e.Sources.AddStatsTx(ctx, tx, p.run.ID, st)
		})
		if err != nil {
			return fmt.Errorf("syncengine: sweep of run %s: %w", p.run.ID, err)
		}
		total.Add(st)
		if progress != nil && n > 0 {
			progress(0, *total)
		}
		if n < 500 {
			return nil
		}
	}
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

var _ = db.KindInternal
