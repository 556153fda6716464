package source

import (
	"encoding/json"
	"time"

	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
)

// Direction says which way a source's records flow.
type Direction string

// The directions.
const (
	Pull Direction = "pull" // remote to contactd
	Push Direction = "push" // contactd to remote
	Both Direction = "both"
)

// ConflictPolicy says who wins when a field changed on both sides since the last sync.
type ConflictPolicy string

// The conflict policies.
const (
	NewestWins ConflictPolicy = "newest-wins" // the later change (remote updated time vs contact's)
	RemoteWins ConflictPolicy = "remote-wins"
	LocalWins  ConflictPolicy = "local-wins"
)

// Source is a remote system contacts are synced with.
type Source struct {
	ID   uuid.UUID
	Type string
	Name string
	// Config is the connector's settings without its secrets.
	Config json.RawMessage
	// SecretNames are the names of the secrets set ("token", "headers.X-Api-Key"); their values
	// are write-only.
	SecretNames    []string
	Direction      Direction
	ConflictPolicy ConflictPolicy
	// Schedule is how often the scheduler runs it; zero is manual only.
	Schedule        time.Duration
	PropagateMerges bool
	NextDueAt       *time.Time
	Version         int64
	CreatedAt       time.Time
	UpdatedAt       time.Time

	sealed []byte
}

// Type checks and splits a connector type's configuration. Connectors register one per type
// (internal/app wires them), so that this package validates sources without knowing any.
type Type interface {
	// CheckConfig validates a source's config (errors name "config.<key>"), and splits it into
	// what may be shown and the secrets (write-only: "token", "password", "headers.<name>").
	// A secret given as "" is removed on an update.
	CheckConfig(config json.RawMessage, dir Direction) (public json.RawMessage, secrets map[string]string, errs db.FieldErrors)
}

// NewSource is the input of Create.
type NewSource struct {
	Type, Name      string
	Config          json.RawMessage
	Direction       string // default pull
	ConflictPolicy  string // default newest-wins
	Schedule        string // a Go duration, "" for manual only
	PropagateMerges bool
}

// Patch is a partial update of a source: nil fields are kept. A Config replaces the settings;
// secrets it does not name are kept.
type Patch struct {
	Name            *string
	Config          json.RawMessage
	Direction       *string
	ConflictPolicy  *string
	Schedule        *string // "" clears the schedule
	PropagateMerges *bool
}

// MinSchedule is the shortest schedule a source may have.
const MinSchedule = time.Minute

// MaxNameLen bounds a source's name.
const MaxNameLen = 200

func checkName(errs *db.FieldErrors, name string) {
	if name == "" {
		errs.Add("name", "is required")
	} else if len([]rune(name)) > MaxNameLen {
		errs.Add("name", "must be at most %d characters", MaxNameLen)
	}
}

func checkDirection(errs *db.FieldErrors, d string) Direction {
	switch Direction(d) {
	case Pull, Push, Both:
		return Direction(d)
	}
	errs.Add("direction", "must be pull, push or both")
	return ""
}

func checkPolicy(errs *db.FieldErrors, p string) ConflictPolicy {
	switch ConflictPolicy(p) {
	case NewestWins, RemoteWins, LocalWins:
		return ConflictPolicy(p)
	}
	errs.Add("conflictPolicy", "must be newest-wins, remote-wins or local-wins")
	return ""
}

func checkSchedule(errs *db.FieldErrors, s string) time.Duration {
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		errs.Add("schedule", "must be a duration such as 15m, or null for manual runs only")
		return 0
	}
	if d < MinSchedule {
		errs.Add("schedule", "must be at least %s", MinSchedule)
	}
	return d
}
