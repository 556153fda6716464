package relationship

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"golang.org/x/net/idna"
)

// MaxEntityNameLen bounds user and account names.
const MaxEntityNameLen = 200

// CreateUser validates and stores a user.
func (s *Store) CreateUser(ctx context.Context, name, email string) (*User, error) {
	var errs db.FieldErrors
	name = contact.CleanText(&errs, "name", name, MaxEntityNameLen)
	if name == "" {
		errs.Add("name", "is required")
	}
	email = contact.CleanText(&errs, "email", email, contact.MaxEmailLen)
	contact.ValidateEmail(&errs, "email", email)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	u := &User{ID: uuid.Must(uuid.NewV7()), Name: name, Email: contact.Nullable(email)}
	err := s.db.WriteRow(ctx, func(r pgx.Row) error { return r.Scan(&u.CreatedAt) },
		`INSERT INTO users (id, name, email) VALUES ($1, $2, $3) RETURNING created_at`, u.ID, u.Name, u.Email)
	if err != nil {
		return nil, fmt.Errorf("relationship: insert user: %w", err)
	}
	return u, nil
}

// GetUser returns a user.
func (s *Store) GetUser(ctx context.Context, id uuid.UUID) (*User, error) {
	var u User
	err := s.db.Pool.QueryRow(ctx, `SELECT id, name, email, created_at FROM users WHERE id = $1`, id).
		Scan(&u.ID, &u.Name, &u.Email, &u.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, db.NotFound("user %s not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("relationship: get user: %w", err)
	}
	return &u, nil
}

// ListUsers returns a page of users in id order after the cursor, and the next cursor.
func (s *Store) ListUsers(ctx context.Context, after *uuid.UUID, limit int) ([]User, *uuid.UUID, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT id, name, email, created_at FROM users
		WHERE $1::uuid IS NULL OR id > $1 ORDER BY id LIMIT $2`, after, limit+1)
	if err != nil {
		return nil, nil, fmt.Errorf("relationship: list users: %w", err)
	}
	users, err := pgx.CollectRows(rows, pgx.RowToStructByPos[User])
	if err != nil {
		return nil, nil, fmt.Errorf("relationship: list users: %w", err)
	}
	users, next := db.Page(users, limit, func(u User) uuid.UUID { return u.ID })
	return users, next, nil
}

// CreateAccount validates and stores an account. The domain is lower-cased and IDNA-encoded.
func (s *Store) CreateAccount(ctx context.Context, name, domain string) (*Account, error) {
	var errs db.FieldErrors
	name = contact.CleanText(&errs, "name", name, MaxEntityNameLen)
	if name == "" {
		errs.Add("name", "is required")
	}
	domain = contact.CleanText(&errs, "domain", domain, 253)
	if domain != "" {
		d, err := idna.Lookup.ToASCII(strings.TrimSuffix(strings.ToLower(domain), "."))
		if err != nil || !strings.Contains(d, ".") {
			errs.Add("domain", "is not a valid domain name")
		}
		domain = d
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	a := &Account{ID: uuid.Must(uuid.NewV7()), Name: name, Domain: contact.Nullable(domain)}
	err := s.db.WriteRow(ctx, func(r pgx.Row) error { return r.Scan(&a.CreatedAt) },
		`INSERT INTO accounts (id, name, domain) VALUES ($1, $2, $3) RETURNING created_at`, a.ID, a.Name, a.Domain)
	if err != nil {
		return nil, fmt.Errorf("relationship: insert account: %w", err)
	}
	return a, nil
}

// GetAccount returns an account.
func (s *Store) GetAccount(ctx context.Context, id uuid.UUID) (*Account, error) {
	var a Account
	err := s.db.Pool.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`, id).
		Scan(&a.ID, &a.Name, &a.Domain, &a.CreatedAt, &a.ParentID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, db.NotFound("account %s not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("relationship: get account: %w", err)
	}
	return &a, nil
}

// ListAccounts returns a page of accounts in id order after the cursor, and the next cursor.
func (s *Store) ListAccounts(ctx context.Context, after *uuid.UUID, limit int) ([]Account, *uuid.UUID, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT `+accountColumns+` FROM accounts
		WHERE $1::uuid IS NULL OR id > $1 ORDER BY id LIMIT $2`, after, limit+1)
	if err != nil {
		return nil, nil, fmt.Errorf("relationship: list accounts: %w", err)
	}
	accounts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Account])
	if err != nil {
		return nil, nil, fmt.Errorf("relationship: list accounts: %w", err)
	}
	accounts, next := db.Page(accounts, limit, func(a Account) uuid.UUID { return a.ID })
	return accounts, next, nil
}

// page trims a limit+1 result to limit and returns the cursor of the next page.
// User is a CRM user a contact can be related to.
type User struct {
	ID        uuid.UUID
	Name      string
	Email     *string
	CreatedAt time.Time
}

// Account is a company account a contact can be related to.
type Account struct {
	ID        uuid.UUID
	Name      string
	Domain    *string
	CreatedAt time.Time
	// ParentID is the account this one belongs to in the hierarchy; nil for a root.
	ParentID *uuid.UUID
}
