package idempotency

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// TTL is how long a key's response is kept and replayed.
const TTL = 24 * time.Hour

// LockFor is how long a first request may run before a repeat may take the key over (its
// process is taken to have died, or it could not release the key because the database went
// away): long enough for any request but an upload of a large import file.
const LockFor = time.Minute

// Store keeps idempotency keys and their responses. It is safe for concurrent use.
type Store struct {
	db *db.DB
}

// NewStore returns a Store over d.
func NewStore(d *db.DB) *Store { return &Store{db: d} }

// Response is a stored response: its status, the headers worth replaying and its body.
type Response struct {
	Status  int
	Headers map[string]string
	Body    []byte
}

// Outcome says what to do with a request that carries a key.
type Outcome int

// The outcomes of Begin.
const (
	// Proceed: the key is this request's now; do the work, then Complete or Release it.
	Proceed Outcome = iota
	// Replay: the same request was answered before; send Response again.
	Replay
	// InProgress: the same key's first request is still running.
	InProgress
	// Mismatch: the key was used with another request.
	Mismatch
	// Done: the first request's work committed but its response was never stored (its
	// process died, or the database went away, between the two): the work must not be done
	// again, and there is no response to replay.
	Done
)

// Begin claims key for apiKey's request whose fingerprint is hash. A key that is new, expired,
// or held by a request that has run longer than LockFor is claimed (Proceed); otherwise the
// stored response (Replay), InProgress or Mismatch says what happened to it. Two concurrent
// requests with one key cannot both Proceed: the claim is one INSERT ... ON CONFLICT.
func (s *Store) Begin(ctx context.Context, apiKey uuid.UUID, key string, hash []byte) (Outcome, *Response, error) {
	var claimed bool
	err := s.db.Pool.QueryRow(ctx, `
		INSERT INTO idempotency_keys (api_key_id, key, request_hash, locked_until, expires_at)
		VALUES ($1, $2, $3, now() + make_interval(secs => $4), now() + make_interval(secs => $5))
		ON CONFLICT (api_key_id, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, status = NULL,
			headers = '{}', body = NULL, work_committed_at = NULL, created_at = now(), locked_until = EXCLUDED.locked_until, expires_at = EXCLUDED.expires_at
		WHERE idempotency_keys.expires_at < now()
			OR (idempotency_keys.status IS NULL AND idempotency_keys.locked_until < now()
				AND idempotency_keys.work_committed_at IS NULL AND idempotency_keys.request_hash = EXCLUDED.request_hash)
		RETURNING true`, apiKey, key, hash, LockFor.Seconds(), TTL.Seconds()).Scan(&claimed)
	if err == nil {
		return Proceed, nil, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, fmt.Errorf("idempotency: claim key: %w", err)
	}
	var stored []byte
	var status *int
	var headers map[string]string
	var body []byte
	var workDone, locked bool
	err = s.db.Pool.QueryRow(ctx, `SELECT request_hash, status, headers, body, work_committed_at IS NOT NULL, locked_until > now()
		FROM idempotency_keys WHERE api_key_id = $1 AND key = $2`, apiKey, key).Scan(&stored, &status, &headers, &body, &workDone, &locked)
	if errors.Is(err, pgx.ErrNoRows) {
		// Released between the claim and this read: the caller may try again.
		return InProgress, nil, nil
	}
	if err != nil {
		return 0, nil, fmt.Errorf("idempotency: read key: %w", err)
	}
	switch {
	case string(stored) != string(hash) && (status != nil || workDone):
		return Mismatch, nil, nil
	case status == nil && workDone && !locked:
		return Done, nil, nil
	case status == nil:
		return InProgress, nil, nil
	case string(stored) != string(hash):
		return Mismatch, nil, nil
	}
	return Replay, &Response{Status: *status, Headers: headers, Body: body}, nil
}

// Complete stores the response of the request that claimed key, to be replayed until the key
// expires.
func (s *Store) Complete(ctx context.Context, apiKey uuid.UUID, key string, r Response) error {
	headers, err := json.Marshal(r.Headers)
	if err != nil {
		return fmt.Errorf("idempotency: encode headers: %w", err)
	}
	if _, err := s.db.Pool.Exec(ctx, `UPDATE idempotency_keys SET status = $3, headers = $4, body = $5
		WHERE api_key_id = $1 AND key = $2`, apiKey, key, r.Status, headers, r.Body); err != nil {
		return fmt.Errorf("idempotency: store response: %w", err)
	}
	return nil
}

// Release gives key up without a response (the request failed in a way worth retrying), so that
// a repeat does the work, unless its work committed (MarkWorkTx): then the key is kept, and a
// repeat is told at once that the work was done (Done).
func (s *Store) Release(ctx context.Context, apiKey uuid.UUID, key string) error {
	if _, err := s.db.Pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE api_key_id = $1 AND key = $2 AND status IS NULL
		AND work_committed_at IS NULL`, apiKey, key); err != nil {
		return fmt.Errorf("idempotency: release key: %w", err)
	}
	if _, err := s.db.Pool.Exec(ctx, `UPDATE idempotency_keys SET locked_until = now() WHERE api_key_id = $1 AND key = $2
		AND status IS NULL`, apiKey, key); err != nil {
		return fmt.Errorf("idempotency: release key: %w", err)
	}
	return nil
}

// MarkWorkTx records, in tx (the transaction of the request's work), that the work of the
// request holding key has committed, if tx wrote anything: a transaction that only read is
// no work. It is the hook the API runs before each of the request's transactions commits
// (db.WithBeforeCommit).
func MarkWorkTx(ctx context.Context, tx pgx.Tx, apiKey uuid.UUID, key string) error {
	if _, err := tx.Exec(ctx, `UPDATE idempotency_keys SET work_committed_at = coalesce(work_committed_at, now())
		WHERE api_key_id = $1 AND key = $2 AND status IS NULL AND txid_current_if_assigned() IS NOT NULL`, apiKey, key); err != nil {
		return fmt.Errorf("idempotency: mark the work done: %w", err)
	}
	return nil
}

// DeleteExpired deletes expired keys, at most limit of them, and returns how many it deleted.
func (s *Store) DeleteExpired(ctx context.Context, limit int) (int64, error) {
	tag, err := s.db.Pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM idempotency_keys WHERE expires_at < now() LIMIT $1))`, limit)
	if err != nil {
		return 0, fmt.Errorf("idempotency: delete expired keys: %w", err)
	}
	return tag.RowsAffected(), nil
}

// CleanArgs asks for expired idempotency keys to be deleted (a periodic job).
type CleanArgs struct{}

// Kind is the job's stable kind name.
func (CleanArgs) Kind() string { return "idempotency_clean" }

// InsertOpts keeps one cleaning job pending at a time, on the bulk queue.
func (CleanArgs) InsertOpts() river.InsertOpts {
	// Unique while waiting or running only: River's default states include completed, which
	// would keep every later run from being inserted.
	return river.InsertOpts{Queue: db.QueueBulk, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: db.ActiveJobStates}}
}
