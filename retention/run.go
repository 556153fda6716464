package retention

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/internal/runs"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Run is one application of a policy.
type Run struct {
	ID       uuid.UUID
	PolicyID uuid.UUID
	Status   runs.Status
	// Action and Criteria are the policy's when the run was queued.
	Action   string
	Criteria Criteria
	// AsOf is when inactivity is counted back from, fixed when the run starts.
	AsOf *time.Time
	// Matched is how many contacts the policy selected when the run started; Processed how
	// many it has changed so far.
	Matched, Processed int64
	// Error says why a failed run failed.
	Error      *string
	QueuedAt   time.Time
	StartedAt  *time.Time
	FinishedAt *time.Time
	cursor     *uuid.UUID
}

// Done says the run has ended.
func (r *Run) Done() bool { return r.Status.Done() }

const runColumns = `id, policy_id, status, action, filter, as_of, matched, processed, error, queued_at, started_at,
	finished_at, cursor`

// ledger is the retention runs table, one run per policy at a time.
var ledger = runs.Ledger{Runs: "retention_runs", Owner: "policy_id", Owners: "retention_policies", Columns: runColumns,
	Noun: "retention policy"}

func runID(r *Run) uuid.UUID { return r.ID }

func scanRun(row pgx.Row) (*Run, error) {
	var r Run
	err := row.Scan(&r.ID, &r.PolicyID, &r.Status, &r.Action, &r.Criteria, &r.AsOf, &r.Matched, &r.Processed, &r.Error,
		&r.QueuedAt, &r.StartedAt, &r.FinishedAt, &r.cursor)
	return &r, err
}

// actionSQL narrows a selection to the contacts the action would change, so that a run changes
// exactly what it selects (and a dry run lists exactly that).
var actionSQL = map[string]string{
	ActionArchive:             `c.status = 'active'`,
	ActionPurgeCommunications: `EXISTS (SELECT 1 FROM communications m WHERE m.contact_id = c.id)`,
	ActionErase:               `c.status <> 'erased'`,
}

// selectSQL is the one query of dry runs and runs: the contacts the action would change among
// those the criteria select as of asOf, in id order after the cursor (none: from the start);
// the arguments are in args.
func selectSQL(action string, crit Criteria, asOf time.Time, after *uuid.UUID) (string, []any) {
	where, args := crit.Where(nil, asOf)
	args = append(args, after)
	return `SELECT c.id FROM contacts c WHERE ` + where + ` AND ` + actionSQL[action] +
		` AND ($` + strconv.Itoa(len(args)) + `::uuid IS NULL OR c.id > $` + strconv.Itoa(len(args)) + `) ORDER BY c.id`, args
}

// noJIT turns JIT compilation off for the transaction: the planner's estimate of the
// per-contact probes (the merge fold above all) is far above their cost, and compiling the
// query would take longer than running it.
func noJIT(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `SET LOCAL jit = off`); err != nil {
		return fmt.Errorf("retention: %w", err)
	}
	return nil
}

// DryRunResult is what a policy would change now.
type DryRunResult struct {
	Matched int64
	// ContactIDs are the first MaxDryRunIDs of them, in id order (the order a run works in).
	ContactIDs []uuid.UUID
}

// DryRun says what running the policy now would change, changing nothing: the same query as
// a run, in one snapshot.
func (s *Store) DryRun(ctx context.Context, policyID uuid.UUID) (*DryRunResult, error) {
	p, err := s.Get(ctx, policyID)
	if err != nil {
		return nil, err
	}
	if err := s.canRun(p.Action); err != nil {
		return nil, err
	}
	out := &DryRunResult{ContactIDs: []uuid.UUID{}}
	err = pgx.BeginTxFunc(ctx, s.db.Pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := noJIT(ctx, tx); err != nil {
			return err
		}
		sql, args := selectSQL(p.Action, p.Criteria, time.Now(), nil)
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM (`+sql+`) s`, args...).Scan(&out.Matched); err != nil {
			return fmt.Errorf("retention: dry run of %s: count: %w", policyID, err)
		}
		rows, err := tx.Query(ctx, sql+` LIMIT `+strconv.Itoa(MaxDryRunIDs), args...)
		if err != nil {
			return fmt.Errorf("retention: dry run of %s: %w", policyID, err)
		}
		out.ContactIDs, err = pgx.AppendRows(out.ContactIDs, rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			return fmt.Errorf("retention: dry run of %s: %w", policyID, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// canRun says whether this process can take the action.
func (s *Store) canRun(action string) error {
	if action == ActionErase && s.eraser == nil {
		return &db.Error{Kind: db.KindConflict, Message: "erasure is not available in this build: erase policies cannot run"}
	}
	return nil
}

// StartRun queues a run of the policy and its job in one transaction. When the policy has a
// run queued or running already, that run is returned (started false) and nothing is queued:
// one run per policy at a time.
func (s *Store) StartRun(ctx context.Context, policyID uuid.UUID) (run *Run, started bool, err error) {
	err = s.db.RetryTx(ctx, func(tx pgx.Tx) error {
		run, started, err = s.StartRunTx(ctx, tx, policyID)
		return err
	})
	return run, started, err
}

// StartRunTx is StartRun in the caller's transaction (the scheduler's).
func (s *Store) StartRunTx(ctx context.Context, tx pgx.Tx, policyID uuid.UUID) (*Run, bool, error) {
	// Lock the policy: concurrent starts serialize here and the second sees the first's run.
	p, err := getTx(ctx, tx, policyID, true)
	if err != nil {
		return nil, false, err
	}
	if active, found, err := runs.Active(ctx, tx, ledger, policyID, scanRun); err != nil || found {
		return active, false, err
	}
	if err := s.canRun(p.Action); err != nil {
		return nil, false, err
	}
	run, err := scanRun(tx.QueryRow(ctx, `INSERT INTO retention_runs (id, policy_id, status, action, filter)
		VALUES ($1, $2, 'queued', $3, $4) RETURNING `+runColumns, uuid.Must(uuid.NewV7()), policyID, p.Action, p.Criteria))
	if err != nil {
		return nil, false, fmt.Errorf("retention: queue run of %s: %w", policyID, err)
	}
	if _, err := s.db.Jobs.InsertTx(ctx, tx, RunArgs{PolicyID: policyID, RunID: run.ID}, nil); err != nil {
		return nil, false, fmt.Errorf("retention: enqueue run of %s: %w", policyID, err)
	}
	return run, true, nil
}

// EnqueueDue queues a run of every policy whose schedule is due and moves each one's next due
// time a schedule on; it returns how many runs it queued.
func (s *Store) EnqueueDue(ctx context.Context) (int, error) {
	return runs.EnqueueDue(ctx, s.db, ledger, func(ctx context.Context, tx pgx.Tx, id uuid.UUID) (bool, error) {
		_, started, err := s.StartRunTx(ctx, tx, id)
		if db.ErrorKind(err) == db.KindConflict {
			return false, nil // an erase policy in a build without erasure: nothing to queue
		}
		return started, err
	})
}

// GetRun returns a run of a policy.
func (s *Store) GetRun(ctx context.Context, policyID, runID uuid.UUID) (*Run, error) {
	return runs.Get(ctx, s.db.Pool, ledger, policyID, runID, scanRun)
}

// ListRuns returns a page of a policy's runs, newest first, after the cursor (a run id), and
// the cursor of the next page (nil on the last).
func (s *Store) ListRuns(ctx context.Context, policyID uuid.UUID, limit int, before *uuid.UUID) ([]*Run, *uuid.UUID, error) {
	if _, err := s.Get(ctx, policyID); err != nil {
		return nil, nil, err
	}
	return runs.List(ctx, s.db.Pool, ledger, policyID, limit, before, scanRun, runID)
}

// Execute works a run to its end, a batch per transaction, and returns it as it ended. The
// first start fixes the run's as-of time and counts what it matches; a later one (the job
// retried after a crash) goes on after the last committed batch. A run that is over is
// returned as it is.
func (s *Store) Execute(ctx context.Context, runID uuid.UUID) (*Run, error) {
	run, err := s.begin(ctx, runID)
	if err != nil || run.Done() {
		return run, err
	}
	if err := s.canRun(run.Action); err != nil {
		return nil, err
	}
	for {
		n, err := s.batch(ctx, run)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			break
		}
	}
	return s.Finish(ctx, runID, nil)
}

// begin marks a run running, fixing its as-of time and counting its matches on its first start.
func (s *Store) begin(ctx context.Context, runID uuid.UUID) (*Run, error) {
	var run *Run
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		run, err = scanRun(tx.QueryRow(ctx, `SELECT `+runColumns+` FROM retention_runs WHERE id = $1 FOR UPDATE`, runID))
		if errors.Is(err, pgx.ErrNoRows) {
			return db.NotFound("retention run %s not found", runID)
		}
		if err != nil {
			return fmt.Errorf("retention: lock run %s: %w", runID, err)
		}
		if run.Done() || run.AsOf != nil {
			return nil
		}
		asOf := time.Now()
		if err := noJIT(ctx, tx); err != nil {
			return err
		}
		sql, args := selectSQL(run.Action, run.Criteria, asOf, nil)
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM (`+sql+`) s`, args...).Scan(&run.Matched); err != nil {
			return fmt.Errorf("retention: count run %s: %w", runID, err)
		}
		run, err = scanRun(tx.QueryRow(ctx, `UPDATE retention_runs SET status = 'running', started_at = now(), as_of = $2, matched = $3
			WHERE id = $1 RETURNING `+runColumns, runID, asOf, run.Matched))
		if err != nil {
			return fmt.Errorf("retention: start run %s: %w", runID, err)
		}
		return nil
	})
	return run, err
}

// batch changes the next batch of the run's contacts and records its progress with it; it
// returns how many contacts it changed (0: the run is through).
func (s *Store) batch(ctx context.Context, run *Run) (int, error) {
	var n int
	var last uuid.UUID
	err := s.db.RetryTx(ctx, func(tx pgx.Tx) error {
		if err := noJIT(ctx, tx); err != nil {
			return err
		}
		sql, args := selectSQL(run.Action, run.Criteria, *run.AsOf, run.cursor)
		rows, err := tx.Query(ctx, sql+` LIMIT `+strconv.Itoa(s.batchSize())+` FOR UPDATE OF c`, args...)
		if err != nil {
			return fmt.Errorf("retention: select batch of run %s: %w", run.ID, err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			return fmt.Errorf("retention: select batch of run %s: %w", run.ID, err)
		}
		n = len(ids)
		if n == 0 {
			return nil
		}
		if err := s.apply(ctx, tx, run, ids); err != nil {
			return err
		}
		last = ids[n-1]
		if _, err := tx.Exec(ctx, `UPDATE retention_runs SET processed = processed + $2, cursor = $3 WHERE id = $1`,
			run.ID, n, last); err != nil {
			return fmt.Errorf("retention: record progress of run %s: %w", run.ID, err)
		}
		return nil
	})
	if err == nil && n > 0 {
		run.Processed += int64(n)
		run.cursor = &last
	}
	return n, err
}

// apply takes the run's action on ids, auditing each contact as the policy.
func (s *Store) apply(ctx context.Context, tx pgx.Tx, run *Run, ids []uuid.UUID) error {
	actor := Actor(run.PolicyID)
	var err error
	switch run.Action {
	case ActionArchive:
		_, err = contact.ArchiveManyTx(ctx, tx, ids, actor)
	case ActionPurgeCommunications:
		err = s.purger.PurgeTx(ctx, tx, ids, actor)
	case ActionErase:
		err = s.eraser.EraseTx(ctx, tx, ids, actor)
	default:
		err = fmt.Errorf("unknown action %q", run.Action)
	}
	if err != nil {
		return fmt.Errorf("retention: run %s: %s %d contacts: %w", run.ID, run.Action, len(ids), err)
	}
	return nil
}

// Finish ends a run: succeeded when failure is nil, failed with the failure as its error
// otherwise.
func (s *Store) Finish(ctx context.Context, runID uuid.UUID, failure error) (*Run, error) {
	status, msg := runs.Succeeded, (*string)(nil)
	if failure != nil {
		status = runs.Failed
		m := failure.Error()
		msg = &m
	}
	run, err := scanRun(s.db.Pool.QueryRow(ctx, `UPDATE retention_runs SET status = $2, error = $3, finished_at = now(),
			started_at = coalesce(started_at, now())
		WHERE id = $1 RETURNING `+runColumns, runID, status, msg))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, db.NotFound("retention run %s not found", runID)
	}
	if err != nil {
		return nil, fmt.Errorf("retention: finish run %s: %w", runID, err)
	}
	return run, nil
}
