package relationship

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"golang.org/x/net/idna"
)

// hierarchyLockSQL serializes changes of accounts' parents: each change checks for a cycle
// against a hierarchy no other change is altering, so two concurrent changes (A under B, B
// under A) cannot together make one.
const hierarchyLockSQL = `SELECT pg_advisory_xact_lock(hashtextextended('account_hierarchy', 7005))`

// MaxAccountDepth bounds how deep the hierarchy of accounts goes.
const MaxAccountDepth = 100

const accountColumns = `id, name, domain, created_at, parent_id`

// AccountUpdate changes an account: fields not Set are kept; a Null ParentID makes the
// account a root.
type AccountUpdate struct {
	Name     contact.Opt[string]
	Domain   contact.Opt[string]
	ParentID contact.Opt[uuid.UUID]
}

func cleanDomain(errs *db.FieldErrors, domain string) string {
	domain = contact.CleanText(errs, "domain", domain, 253)
	if domain == "" {
		return ""
	}
	d, err := idna.Lookup.ToASCII(strings.TrimSuffix(strings.ToLower(domain), "."))
	if err != nil || !strings.Contains(d, ".") {
		errs.Add("domain", "is not a valid domain name")
	}
	return d
}

// CreateAccountIn validates and stores an account under parentID (nil: a root account).
func (s *Store) CreateAccountIn(ctx context.Context, name, domain string, parentID *uuid.UUID) (*Account, error) {
	if parentID == nil {
		return s.CreateAccount(ctx, name, domain)
	}
	var errs db.FieldErrors
	name = contact.CleanText(&errs, "name", name, MaxEntityNameLen)
	if name == "" {
		errs.Add("name", "is required")
	}
	domain = cleanDomain(&errs, domain)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	a := &Account{ID: uuid.Must(uuid.NewV7()), Name: name, Domain: contact.Nullable(domain), ParentID: parentID}
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		if err := checkParent(ctx, tx, a.ID, *parentID); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO accounts (id, name, domain, parent_id) VALUES ($1, $2, $3, $4) RETURNING created_at`,
			a.ID, a.Name, a.Domain, a.ParentID).Scan(&a.CreatedAt)
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// UpdateAccount changes an account's name, domain or parent. A parent that is the account
// itself or one of its descendants is refused (parentId), under a lock that makes concurrent
// changes of the hierarchy take turns.
func (s *Store) UpdateAccount(ctx context.Context, id uuid.UUID, u AccountUpdate) (*Account, error) {
	var errs db.FieldErrors
	if u.Name.Set {
		if u.Name.Value = contact.CleanText(&errs, "name", u.Name.Value, MaxEntityNameLen); u.Name.Value == "" {
			errs.Add("name", "is required")
		}
	}
	if u.Domain.Set && !u.Domain.Null {
		u.Domain.Value = cleanDomain(&errs, u.Domain.Value)
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	var out *Account
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		if u.ParentID.Set && !u.ParentID.Null {
			// The hierarchy's lock before any row lock: the new parent's key share lock (the
			// foreign key) must not wait on a writer that waits for the hierarchy.
			if _, err := tx.Exec(ctx, hierarchyLockSQL); err != nil {
				return fmt.Errorf("relationship: lock account hierarchy: %w", err)
			}
		}
		a, err := scanAccount(tx.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return db.NotFound("account %s not found", id)
		}
		if err != nil {
			return fmt.Errorf("relationship: lock account %s: %w", id, err)
		}
		if u.Name.Set {
			a.Name = u.Name.Value
		}
		if u.Domain.Set {
			a.Domain = nil
			if !u.Domain.Null {
				a.Domain = contact.Nullable(u.Domain.Value)
			}
		}
		if u.ParentID.Set {
			a.ParentID = nil
			if !u.ParentID.Null {
				if err := checkParent(ctx, tx, id, u.ParentID.Value); err != nil {
					return err
				}
				p := u.ParentID.Value
				a.ParentID = &p
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE accounts SET name = $2, domain = $3, parent_id = $4 WHERE id = $1`,
			id, a.Name, a.Domain, a.ParentID); err != nil {
			return fmt.Errorf("relationship: update account %s: %w", id, err)
		}
		out = a
		return nil
	})
	return out, err
}

// checkParent takes the hierarchy's lock and fails, naming parentId, unless parent exists and
// is neither id nor one of its descendants, and the chain above it is not too deep.
func checkParent(ctx context.Context, tx pgx.Tx, id, parent uuid.UUID) error {
	if _, err := tx.Exec(ctx, hierarchyLockSQL); err != nil {
		return fmt.Errorf("relationship: lock account hierarchy: %w", err)
	}
	if parent == id {
		return db.Invalid("parentId", "an account cannot be its own parent")
	}
	var exists, cycle bool
	var depth int
	err := tx.QueryRow(ctx, `
		WITH RECURSIVE up (id, depth) AS (
			SELECT id, 1 FROM accounts WHERE id = $1
			UNION ALL
			SELECT a.parent_id, up.depth + 1 FROM accounts a JOIN up ON a.id = up.id
			WHERE a.parent_id IS NOT NULL AND up.depth <= $3)
		SELECT EXISTS (SELECT 1 FROM accounts WHERE id = $1), coalesce(bool_or(id = $2), false), coalesce(max(depth), 0) FROM up`,
		parent, id, MaxAccountDepth).Scan(&exists, &cycle, &depth)
	if err != nil {
		return fmt.Errorf("relationship: check parent of %s: %w", id, err)
	}
	switch {
	case !exists:
		return db.Invalid("parentId", "no account %s", parent)
	case cycle:
		return db.Invalid("parentId", "account %s is below this account: the hierarchy would have a cycle", parent)
	case depth >= MaxAccountDepth:
		return db.Invalid("parentId", "the hierarchy would be more than %d accounts deep", MaxAccountDepth)
	}
	return nil
}

func scanAccount(row pgx.Row) (*Account, error) {
	var a Account
	err := row.Scan(&a.ID, &a.Name, &a.Domain, &a.CreatedAt, &a.ParentID)
	return &a, err
}
