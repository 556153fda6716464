package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Store keeps sources, runs and links. It is safe for concurrent use.
type Store struct {
	db     *db.DB
	sealer *Sealer
	types  map[string]Type
}

// NewStore returns a Store over d whose secrets are sealed with sealer (nil: no key, and no
// source with secrets can be created). types are the connector types sources may have.
func NewStore(d *db.DB, sealer *Sealer, types map[string]Type) *Store {
	return &Store{db: d, sealer: sealer, types: types}
}

// SetSealer replaces the key secrets are sealed with (the binary sets it from KeyEnv).
func (s *Store) SetSealer(sealer *Sealer) { s.sealer = sealer }

// DB is the database the store works on.
func (s *Store) DB() *db.DB { return s.db }

const sourceColumns = `id, type, name, config, secrets, direction, conflict_policy, schedule_seconds,
	propagate_merges, next_due_at, version, created_at, updated_at`

func scanSource(row pgx.Row) (*Source, error) {
	var src Source
	var secs *int64
	err := row.Scan(&src.ID, &src.Type, &src.Name, &src.Config, &src.sealed, &src.Direction, &src.ConflictPolicy, &secs,
		&src.PropagateMerges, &src.NextDueAt, &src.Version, &src.CreatedAt, &src.UpdatedAt)
	if err != nil {
		return nil, err
	}
	if secs != nil {
		src.Schedule = time.Duration(*secs) * time.Second
	}
	return &src, nil
}

// check validates the type and config of a source and seals its secrets (merged over old).
func (s *Store) check(errs *db.FieldErrors, id uuid.UUID, typ string, cfg json.RawMessage, dir Direction, old map[string]string) (json.RawMessage, []byte, []string) {
	t, ok := s.types[typ]
	if !ok {
		errs.Add("type", "must be http or carddav")
		return nil, nil, nil
	}
	if len(cfg) == 0 {
		errs.Add("config", "is required")
		return nil, nil, nil
	}
	public, secrets, cerrs := t.CheckConfig(cfg, dir)
	*errs = append(*errs, cerrs...)
	merged := map[string]string{}
	for k, v := range old {
		merged[k] = v
	}
	for k, v := range secrets {
		if v == "" {
			delete(merged, k)
		} else {
			merged[k] = v
		}
	}
	if len(merged) > 0 && s.sealer == nil {
		for _, k := range slices.Sorted(maps.Keys(secrets)) {
			errs.Add("config."+k, "secrets cannot be stored: the server has no %s", KeyEnv)
		}
		if len(secrets) == 0 {
			errs.Add("config", "the source's stored secrets cannot be kept: the server has no %s", KeyEnv)
		}
		return nil, nil, nil
	}
	if len(*errs) > 0 {
		return nil, nil, nil
	}
	sealed, err := seal(s.sealer, id[:], merged)
	if err != nil {
		errs.Add("config", "secrets cannot be stored: %v", err)
		return nil, nil, nil
	}
	return public, sealed, slices.Sorted(maps.Keys(merged))
}

func scheduleArgs(d time.Duration) (*int64, *time.Time) {
	if d == 0 {
		return nil, nil
	}
	secs := int64(d / time.Second)
	due := time.Now().Add(d)
	return &secs, &due
}

// Create validates in and stores the source, reporting every invalid field.
func (s *Store) Create(ctx context.Context, in NewSource) (*Source, error) {
	var errs db.FieldErrors
	src := &Source{ID: uuid.Must(uuid.NewV7()), Type: in.Type, Name: in.Name, PropagateMerges: in.PropagateMerges, Version: 1}
	checkName(&errs, in.Name)
	src.Direction = checkDirection(&errs, cmpOr(in.Direction, string(Pull)))
	src.ConflictPolicy = checkPolicy(&errs, cmpOr(in.ConflictPolicy, string(NewestWins)))
	src.Schedule = checkSchedule(&errs, in.Schedule)
	public, sealed, names := s.check(&errs, src.ID, in.Type, in.Config, src.Direction, nil)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	src.Config, src.sealed, src.SecretNames = public, sealed, names
	if src.SecretNames == nil {
		src.SecretNames = []string{} // as a read of it gives: none set
	}
	secs, due := scheduleArgs(src.Schedule)
	err := s.db.WriteRow(ctx, func(r pgx.Row) error { return r.Scan(&src.NextDueAt, &src.CreatedAt, &src.UpdatedAt) },
		`INSERT INTO sync_sources (id, type, name, config, secrets, direction, conflict_policy,
			schedule_seconds, propagate_merges, next_due_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING next_due_at, created_at, updated_at`,
		src.ID, src.Type, src.Name, src.Config, src.sealed, src.Direction, src.ConflictPolicy, secs, src.PropagateMerges, due)
	if err != nil {
		return nil, fmt.Errorf("source: create: %w", err)
	}
	return src, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Get returns a source.
func (s *Store) Get(ctx context.Context, id uuid.UUID) (*Source, error) {
	src, err := scanSource(s.db.Pool.QueryRow(ctx, `SELECT `+sourceColumns+` FROM sync_sources WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, db.NotFound("source %s not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("source: get %s: %w", id, err)
	}
	return src, s.nameSecrets(src)
}

// nameSecrets fills SecretNames from the sealed secrets.
func (s *Store) nameSecrets(src *Source) error {
	if len(src.sealed) == 0 {
		src.SecretNames = []string{}
		return nil
	}
	secrets, err := open(s.sealer, src.ID[:], src.sealed)
	if err != nil {
		// Without the key the names are unknown; the source still lists.
		src.SecretNames = []string{"?"}
		return nil //nolint:nilerr // listing must not fail for a missing key
	}
	src.SecretNames = slices.Sorted(maps.Keys(secrets))
	return nil
}

// Secrets returns the source's secrets in clear, for its connector.
func (s *Store) Secrets(src *Source) (map[string]string, error) {
	return open(s.sealer, src.ID[:], src.sealed)
}

// List returns every source, oldest first (there are few).
func (s *Store) List(ctx context.Context) ([]*Source, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT `+sourceColumns+` FROM sync_sources ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("source: list: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Source, error) { return scanSource(r) })
	if err != nil {
		return nil, fmt.Errorf("source: list: %w", err)
	}
	for _, src := range out {
		if err := s.nameSecrets(src); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Update applies a partial update, reporting every invalid field.
func (s *Store) Update(ctx context.Context, id uuid.UUID, p Patch) (*Source, error) {
	var out *Source
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		src, err := scanSource(tx.QueryRow(ctx, `SELECT `+sourceColumns+` FROM sync_sources WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return db.NotFound("source %s not found", id)
		}
		if err != nil {
			return fmt.Errorf("source: lock %s: %w", id, err)
		}
		var errs db.FieldErrors
		if p.Name != nil {
			checkName(&errs, *p.Name)
			src.Name = *p.Name
		}
		if p.Direction != nil {
			src.Direction = checkDirection(&errs, *p.Direction)
		}
		if p.ConflictPolicy != nil {
			src.ConflictPolicy = checkPolicy(&errs, *p.ConflictPolicy)
		}
		scheduleChanged := false
		if p.Schedule != nil {
			src.Schedule, scheduleChanged = checkSchedule(&errs, *p.Schedule), true
		}
		if p.PropagateMerges != nil {
			src.PropagateMerges = *p.PropagateMerges
		}
		if p.Config != nil || p.Direction != nil {
			cfg := p.Config
			if cfg == nil {
				cfg = src.Config
			}
			old := map[string]string{}
			if len(src.sealed) > 0 {
				if old, err = open(s.sealer, src.ID[:], src.sealed); err != nil {
					errs.Add("config", "the stored secrets cannot be read: %v", err)
				}
			}
			public, sealed, _ := s.check(&errs, src.ID, src.Type, cfg, src.Direction, old)
			src.Config, src.sealed = public, sealed
		}
		if err := errs.Err(); err != nil {
			return err
		}
		secs, due := scheduleArgs(src.Schedule)
		if !scheduleChanged {
			due = src.NextDueAt
		}
		err = tx.QueryRow(ctx, `UPDATE sync_sources SET name = $2, config = $3, secrets = $4, direction = $5,
				conflict_policy = $6, schedule_seconds = $7, propagate_merges = $8, next_due_at = $9,
				push_watermark = NULL, version = version + 1, updated_at = now()
			WHERE id = $1 RETURNING next_due_at, version, updated_at`,
			id, src.Name, src.Config, src.sealed, src.Direction, src.ConflictPolicy, secs, src.PropagateMerges, due,
		).Scan(&src.NextDueAt, &src.Version, &src.UpdatedAt)
		if err != nil {
			return fmt.Errorf("source: update %s: %w", id, err)
		}
		out = src
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, s.nameSecrets(out)
}

// Delete removes a source with its runs and links (its contacts stay). A source with a run in
// progress cannot be deleted (KindConflict).
func (s *Store) Delete(ctx context.Context, id uuid.UUID) error {
	return s.db.InTx(ctx, func(tx pgx.Tx) error {
		var active bool
		err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sync_runs WHERE source_id = $1 AND status = 'running')
			FROM sync_sources WHERE id = $1 FOR UPDATE`, id).Scan(&active)
		if errors.Is(err, pgx.ErrNoRows) {
			return db.NotFound("source %s not found", id)
		}
		if err != nil {
			return fmt.Errorf("source: lock %s: %w", id, err)
		}
		if active {
			return db.Conflict("source %s has a run in progress", id)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sync_sources WHERE id = $1`, id); err != nil {
			return fmt.Errorf("source: delete %s: %w", id, err)
		}
		return nil
	})
}
