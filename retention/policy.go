package retention

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// The actions a policy takes on the contacts it selects.
const (
	// ActionArchive archives active contacts (package contact).
	ActionArchive = "archive"
	// ActionErase erases contacts (Art. 17) through the Eraser.
	ActionErase = "erase"
	// ActionPurgeCommunications deletes contacts' communications through the Purger.
	ActionPurgeCommunications = "purge_communications"
)

// Actions lists the actions a policy may take.
var Actions = []string{ActionArchive, ActionErase, ActionPurgeCommunications}

// Limits of a policy.
const (
	MaxNameLen = 200
	// MinSchedule is the shortest schedule a policy may have.
	MinSchedule = time.Minute
)

// Policy is a retention rule: what to do with which contacts, and how often.
type Policy struct {
	ID       uuid.UUID
	Name     string
	Action   string
	Criteria Criteria
	// Schedule is how often the policy runs; zero is on demand only.
	Schedule  time.Duration
	NextDueAt *time.Time
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// NewPolicy is the input of Create.
type NewPolicy struct {
	Name, Action string
	Filter       json.RawMessage
	Schedule     string // a Go duration, "" for on demand only
}

// Patch changes the set fields of a policy.
type Patch struct {
	Name, Action *string
	Filter       json.RawMessage
	Schedule     *string // "" clears the schedule
}

const policyColumns = `id, name, action, filter, schedule_seconds, next_due_at, version, created_at, updated_at`

func scanPolicy(row pgx.Row) (*Policy, error) {
	var p Policy
	var secs *int64
	var filter []byte
	if err := row.Scan(&p.ID, &p.Name, &p.Action, &filter, &secs, &p.NextDueAt, &p.Version, &p.CreatedAt, &p.UpdatedAt); err != nil {
		return nil, err
	}
	if secs != nil {
		p.Schedule = time.Duration(*secs) * time.Second
	}
	if err := json.Unmarshal(filter, &p.Criteria); err != nil {
		return nil, fmt.Errorf("retention: policy %s's filter: %w", p.ID, err)
	}
	return &p, nil
}

func checkName(errs *db.FieldErrors, name string) string {
	name = strings.TrimSpace(name)
	if name == "" {
		errs.Add("name", "is required")
	} else if len([]rune(name)) > MaxNameLen {
		errs.Add("name", "must be at most %d characters", MaxNameLen)
	}
	return name
}

func checkAction(errs *db.FieldErrors, a string) string {
	if !slices.Contains(Actions, a) {
		errs.Add("action", "must be one of %s", strings.Join(Actions, ", "))
	}
	return a
}

func checkSchedule(errs *db.FieldErrors, s string) time.Duration {
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		errs.Add("schedule", "must be a duration such as 24h, or null for runs on demand only")
		return 0
	}
	if d < MinSchedule {
		errs.Add("schedule", "must be at least %s", MinSchedule)
	}
	return d
}

// checkFilter reads a filter into errs; a missing filter selects every active contact.
func checkFilter(errs *db.FieldErrors, raw json.RawMessage) Criteria {
	if raw == nil {
		return Criteria{}
	}
	c, err := ParseCriteria(raw)
	var de *db.Error
	if errors.As(err, &de) {
		*errs = append(*errs, de.Fields...)
	}
	return c
}

func scheduleArgs(d time.Duration, from time.Time) (*int64, *time.Time) {
	if d == 0 {
		return nil, nil
	}
	secs := int64(d / time.Second)
	due := from.Add(d)
	return &secs, &due
}

// Create validates in and stores the policy, reporting every invalid field.
func (s *Store) Create(ctx context.Context, in NewPolicy) (*Policy, error) {
	var errs db.FieldErrors
	name := checkName(&errs, in.Name)
	action := checkAction(&errs, in.Action)
	crit := checkFilter(&errs, in.Filter)
	sched := checkSchedule(&errs, in.Schedule)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	secs, due := scheduleArgs(sched, time.Now())
	var p *Policy
	err := s.db.WriteRow(ctx, func(r pgx.Row) (err error) { p, err = scanPolicy(r); return err },
		`INSERT INTO retention_policies (id, name, action, filter, schedule_seconds, next_due_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+policyColumns, uuid.Must(uuid.NewV7()), name, action, crit, secs, due)
	if err != nil {
		return nil, fmt.Errorf("retention: create policy: %w", err)
	}
	return p, nil
}

// Get returns a policy.
func (s *Store) Get(ctx context.Context, id uuid.UUID) (*Policy, error) {
	return getTx(ctx, s.db.Pool, id, false)
}

func getTx(ctx context.Context, q db.Querier, id uuid.UUID, forUpdate bool) (*Policy, error) {
	sql := `SELECT ` + policyColumns + ` FROM retention_policies WHERE id = $1`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	p, err := scanPolicy(q.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, db.NotFound("retention policy %s not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("retention: get policy %s: %w", id, err)
	}
	return p, nil
}

// List returns every policy, oldest first.
func (s *Store) List(ctx context.Context) ([]*Policy, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT `+policyColumns+` FROM retention_policies ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("retention: list policies: %w", err)
	}
	ps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Policy, error) { return scanPolicy(r) })
	if err != nil {
		return nil, fmt.Errorf("retention: list policies: %w", err)
	}
	return ps, nil
}

// Update applies p's set fields to a policy, reporting every invalid one. A queued or running
// run keeps the policy it was queued with.
func (s *Store) Update(ctx context.Context, id uuid.UUID, p Patch) (*Policy, error) {
	var out *Policy
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		cur, err := getTx(ctx, tx, id, true)
		if err != nil {
			return err
		}
		var errs db.FieldErrors
		if p.Name != nil {
			cur.Name = checkName(&errs, *p.Name)
		}
		if p.Action != nil {
			cur.Action = checkAction(&errs, *p.Action)
		}
		if p.Filter != nil {
			cur.Criteria = checkFilter(&errs, p.Filter)
		}
		// The next due time moves only when the schedule changes.
		secs, _ := scheduleArgs(cur.Schedule, time.Now())
		due := cur.NextDueAt
		if p.Schedule != nil {
			if d := checkSchedule(&errs, *p.Schedule); d != cur.Schedule {
				secs, due = scheduleArgs(d, time.Now())
			}
		}
		if err := errs.Err(); err != nil {
			return err
		}
		out, err = scanPolicy(tx.QueryRow(ctx, `UPDATE retention_policies SET name = $2, action = $3, filter = $4,
				schedule_seconds = $5, next_due_at = $6, version = version + 1, updated_at = now()
			WHERE id = $1 RETURNING `+policyColumns, id, cur.Name, cur.Action, cur.Criteria, secs, due))
		if err != nil {
			return fmt.Errorf("retention: update policy %s: %w", id, err)
		}
		return nil
	})
	return out, err
}

// Delete removes a policy and its runs. A policy with a run queued or running is a conflict:
// the run would go on without it.
func (s *Store) Delete(ctx context.Context, id uuid.UUID) error {
	return s.db.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := getTx(ctx, tx, id, true); err != nil {
			return err
		}
		var active bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM retention_runs WHERE policy_id = $1 AND status IN ('queued', 'running'))`,
			id).Scan(&active); err != nil {
			return fmt.Errorf("retention: runs of policy %s: %w", id, err)
		}
		if active {
			return db.Conflict("retention policy %s has a run in progress; delete it when the run has ended", id)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM retention_policies WHERE id = $1`, id); err != nil {
			return fmt.Errorf("retention: delete policy %s: %w", id, err)
		}
		return nil
	})
}

// Actor is who a policy's changes are audited as made by.
func Actor(policyID uuid.UUID) string { return "retention:" + policyID.String() }
