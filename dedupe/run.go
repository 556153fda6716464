package dedupe

import (
	"context"
	"fmt"

	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
)

// scanLock is the advisory lock a running scan holds, so that scans run one at a time across
// processes, whether a worker or `contactd dedupe --wait` runs them.
const scanLock = 7002

// ErrScanRunning is the error RunScan returns while another scan runs.
var ErrScanRunning error = &db.Error{Kind: db.KindConflict, Message: "another duplicate scan is running; scans run one at a time"}

// RunScan runs a full scan recorded as run runID (a zero runID records a run of its own),
// reporting each stage's statistics on the run and to progress (which may be nil), and ends the
// run succeeded or failed. Workers and the command line both run scans through it. While another
// scan runs anywhere it returns ErrScanRunning and leaves the run queued.
func (e *Engine) RunScan(ctx context.Context, runID uuid.UUID, progress Progress) (*Run, ScanStats, error) {
	conn, err := e.Store.db.Pool.Acquire(ctx)
	if err != nil {
		return nil, ScanStats{}, fmt.Errorf("dedupe: scan lock: %w", err)
	}
	defer conn.Release()
	var locked bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, scanLock).Scan(&locked); err != nil {
		return nil, ScanStats{}, fmt.Errorf("dedupe: scan lock: %w", err)
	}
	if !locked {
		return nil, ScanStats{}, ErrScanRunning
	}
	defer func() {
		// The lock belongs to the connection's session: a connection that went back to the pool
		// still holding it would refuse every later scan. When the unlock fails the connection
		// is closed instead, which ends the session and its lock; Release then drops it.
		ctx := context.WithoutCancel(ctx)
		var unlocked bool
		if err := conn.QueryRow(ctx, `SELECT pg_advisory_unlock($1)`, scanLock).Scan(&unlocked); err != nil || !unlocked {
			_ = conn.Conn().Close(ctx) // its error changes nothing: the connection is gone either way
		}
	}()

	if runID == uuid.Nil {
		run, err := e.Store.CreateRunRecord(ctx)
		if err != nil {
			return nil, ScanStats{}, err
		}
		runID = run.ID
	}
	if _, err := e.Store.UpdateRun(ctx, runID, "running", nil, map[string]any{}, ""); err != nil {
		return nil, ScanStats{}, err
	}
	var reportErr error
	stats, err := e.Scan(ctx, func(stage string, st ScanStats) {
		if progress != nil {
			progress(stage, st)
		}
		if _, err := e.Store.UpdateRun(ctx, runID, "running", nil, st, ""); err != nil && reportErr == nil {
			reportErr = err
		}
	})
	version := versionPtr(stats.ModelVersion)
	if err == nil && reportErr != nil {
		err = fmt.Errorf("dedupe: record scan progress: %w", reportErr)
	}
	if err != nil {
		run, uerr := e.Store.UpdateRun(context.WithoutCancel(ctx), runID, "failed", version, stats, err.Error())
		if uerr != nil {
			err = fmt.Errorf("%w (and recording the failure: %v)", err, uerr)
		}
		return run, stats, fmt.Errorf("dedupe: scan %s: %w", runID, err)
	}
	run, err := e.Store.UpdateRun(ctx, runID, "succeeded", version, stats, "")
	return run, stats, err
}
