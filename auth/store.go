package auth

import (
	"github.com/contactd/contactd/internal/db"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store keeps API keys (table api_keys). It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore returns a Store over d.
func NewStore(d *db.DB) *Store { return &Store{pool: d.Pool} }
