package relationship

import "github.com/contactd/contactd/internal/db"

// Store keeps the users and accounts contacts relate to (users, accounts) and the contacts'
// relationships to them (contact_users, contact_accounts), with their history. It is safe for
// concurrent use.
type Store struct {
	db *db.DB
}

// NewStore returns a Store over d.
func NewStore(d *db.DB) *Store { return &Store{db: d} }
