package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Scope is a permission an API key carries. admin implies write, which implies read.
type Scope string

// The API key scopes.
const (
	ScopeRead  Scope = "read"
	ScopeWrite Scope = "write"
	ScopeAdmin Scope = "admin"
)

// APIKey is a stored API key; the token itself is never stored, only its SHA-256.
type APIKey struct {
	ID         uuid.UUID
	Name       string
	Scopes     []Scope
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// Allows reports whether the key carries scope, directly or through a wider one.
func (k *APIKey) Allows(scope Scope) bool {
	rank := map[Scope]int{ScopeRead: 1, ScopeWrite: 2, ScopeAdmin: 3}
	for _, s := range k.Scopes {
		if rank[s] >= rank[scope] {
			return true
		}
	}
	return false
}

// tokenPrefix marks contactd tokens so that secret scanners and people can recognise them.
const tokenPrefix = "cdk_"

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// ParseScopes parses a comma-separated scope list such as "read,write".
func ParseScopes(s string) ([]Scope, error) {
	var scopes []Scope
	for _, part := range strings.Split(s, ",") {
		sc := Scope(strings.TrimSpace(strings.ToLower(part)))
		switch sc {
		case ScopeRead, ScopeWrite, ScopeAdmin:
			if !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
			}
		case "":
		default:
			return nil, fmt.Errorf("unknown scope %q (want read, write or admin)", sc)
		}
	}
	if len(scopes) == 0 {
		return nil, errors.New("at least one scope is required")
	}
	return scopes, nil
}

// CreateAPIKey stores a new key and returns it with its token, which is shown only this once.
func (s *Store) Create(ctx context.Context, name string, scopes []Scope) (*APIKey, string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, "", &db.Error{Kind: db.KindInvalid, Message: "an API key needs a name", Fields: []db.FieldError{{Field: "name", Message: "is required"}}}
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, "", fmt.Errorf("auth: token: %w", err)
	}
	token := tokenPrefix + base64.RawURLEncoding.EncodeToString(secret)
	k := &APIKey{ID: uuid.Must(uuid.NewV7()), Name: name, Scopes: scopes}
	err := s.pool.QueryRow(ctx, `INSERT INTO api_keys (id, name, token_hash, scopes) VALUES ($1, $2, $3, $4) RETURNING created_at`,
		k.ID, k.Name, hashToken(token), scopes).Scan(&k.CreatedAt)
	if err != nil {
		return nil, "", fmt.Errorf("auth: insert api key: %w", err)
	}
	return k, token, nil
}

// Authenticate returns the unrevoked key whose token this is, or a KindUnauthorized error.
// It records the key's use at most once a minute.
func (s *Store) Authenticate(ctx context.Context, token string) (*APIKey, error) {
	if !strings.HasPrefix(token, tokenPrefix) || len(token) > 200 {
		return nil, &db.Error{Kind: db.KindUnauthorized, Message: "unknown API key"}
	}
	var k APIKey
	err := s.pool.QueryRow(ctx, `
		WITH used AS (
			UPDATE api_keys SET last_used_at = now()
			WHERE token_hash = $1 AND revoked_at IS NULL
				AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
		)
		SELECT id, name, scopes, created_at, last_used_at, revoked_at
		FROM api_keys WHERE token_hash = $1 AND revoked_at IS NULL`, hashToken(token)).
		Scan(&k.ID, &k.Name, &k.Scopes, &k.CreatedAt, &k.LastUsedAt, &k.RevokedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &db.Error{Kind: db.KindUnauthorized, Message: "unknown or revoked API key"}
	}
	if err != nil {
		return nil, fmt.Errorf("auth: authenticate: %w", err)
	}
	return &k, nil
}

// RevokeAPIKey revokes a key by id.
func (s *Store) Revoke(ctx context.Context, id uuid.UUID) error {
	tag, err := s.pool.Exec(ctx, `UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL`, id)
	if err != nil {
		return fmt.Errorf("auth: revoke api key: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return db.NotFound("API key %s not found or already revoked", id)
	}
	return nil
}
