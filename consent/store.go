package consent

import (
	"context"
	"crypto/rand"
	"sync"
	"time"

	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Store keeps purposes and consent events and answers reachability. It is safe for concurrent
// use.
type Store struct {
	db  *db.DB
	key []byte
	// now is the clock quiet hours are judged by (tests set it); events are dated by the real one.
	now func() time.Time

	zones sync.Map // IANA name -> *time.Location
	// purposes caches the purposes reachability has read: a purpose never changes once created.
	purposes sync.Map // name -> *Purpose
	// suppressor keeps the suppression list (SetSuppressor).
	suppressor Suppressor
}

// Suppressor keeps the suppression list (package erasure): a contact that withdraws everything
// goes on it, and a later grant takes it off.
type Suppressor interface {
	SuppressContactTx(ctx context.Context, tx pgx.Tx, contactID uuid.UUID) error
	LiftContactTx(ctx context.Context, tx pgx.Tx, contactID uuid.UUID) error
}

// SetSuppressor has an opt-out of everything put the contact's email and phone on the
// suppression list, and a grant take them off.
func (s *Store) SetSuppressor(sp Suppressor) { s.suppressor = sp }

// MinKeyLen is the shortest unsubscribe key SetUnsubscribeKey accepts, in bytes.
const MinKeyLen = 32

// NewStore returns a Store over d. Until SetUnsubscribeKey is called it signs unsubscribe tokens
// with a random key of its own, which no other process shares and which dies with the process.
func NewStore(d *db.DB) *Store {
	key := make([]byte, MinKeyLen)
	if _, err := rand.Read(key); err != nil {
		panic("consent: no randomness: " + err.Error())
	}
	return &Store{db: d, key: key, now: time.Now}
}

// SetUnsubscribeKey sets the key unsubscribe tokens are signed and checked with (at least
// MinKeyLen bytes). Every process of a deployment must use the same key, and changing it
// invalidates every link sent.
func (s *Store) SetUnsubscribeKey(key []byte) error {
	if len(key) < MinKeyLen {
		return db.Invalid("unsubscribeKey", "must be at least %d bytes", MinKeyLen)
	}
	s.key = append([]byte(nil), key...)
	return nil
}

// SetClock makes the store judge quiet hours by now (for tests).
func (s *Store) SetClock(now func() time.Time) { s.now = now }
