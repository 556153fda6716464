package webhook

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/contactd/contactd/event"
	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// Dispatch runs one round of dispatching: it numbers the committed events (event.Sequence) and
// enqueues the stream of every active webhook that is behind. Streams already waiting, running
// or retrying are not enqueued again.
func Dispatch(ctx context.Context, d *db.DB) error {
	if _, err := event.Sequence(ctx, d); err != nil {
		return err
	}
	rows, err := d.Pool.Query(ctx, `SELECT id FROM webhooks
		WHERE active AND cursor < (SELECT coalesce(max(seq), 0) FROM events)`)
	if err != nil {
		return fmt.Errorf("webhook: dispatch: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil || len(ids) == 0 {
		return err
	}
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: DeliverArgs{WebhookID: id}}
	}
	if _, err := d.Jobs.InsertMany(ctx, params); err != nil {
		return fmt.Errorf("webhook: enqueue streams: %w", err)
	}
	return nil
}

// Dispatcher dispatches (Dispatch) as soon as a transaction that wrote events commits (it
// listens for event.Notification) and every Interval besides, until its context ends. Any
// number of processes may run one.
type Dispatcher struct {
	DB *db.DB
	// Interval is the longest wait between rounds (default 1s): it picks up what a
	// notification missed, such as events of a connection that was lost.
	Interval time.Duration
	Logger   *slog.Logger
}

// Run dispatches until ctx ends.
func (p *Dispatcher) Run(ctx context.Context) {
	if p.Interval <= 0 {
		p.Interval = time.Second
	}
	if p.Logger == nil {
		p.Logger = slog.Default()
	}
	wake := make(chan struct{}, 1)
	go p.listen(ctx, wake)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-timer.C:
		}
		if err := Dispatch(ctx, p.DB); err != nil && ctx.Err() == nil {
			p.Logger.Error("webhook dispatch", "err", err)
		}
		timer.Reset(p.Interval)
	}
}

// listen signals wake for every notification, reconnecting after errors, until ctx ends.
func (p *Dispatcher) listen(ctx context.Context, wake chan<- struct{}) {
	for ctx.Err() == nil {
		if err := p.listenOnce(ctx, wake); err != nil && ctx.Err() == nil {
			p.Logger.Warn("webhook dispatch: listening for events", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(p.Interval):
			}
		}
	}
}

func (p *Dispatcher) listenOnce(ctx context.Context, wake chan<- struct{}) error {
	conn, err := p.DB.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// A LISTENing connection is taken out of the pool for good, and closed at the end.
	pc := conn.Hijack()
	defer pc.Close(context.Background()) //nolint:errcheck // best effort on the way out
	if _, err := pc.Exec(ctx, "LISTEN "+event.Notification); err != nil {
		return err
	}
	for {
		if _, err := pc.WaitForNotification(ctx); err != nil {
			return err
		}
		select {
		case wake <- struct{}{}:
		default:
		}
	}
}
