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
)

const relationshipColumns = `id, contact_id, entity_type, entity_id, role, is_primary, created_at, removed_at`

// relationshipsView unions both relationship tables into one shape.
const relationshipsView = `(
	SELECT id, contact_id, 'user' AS entity_type, user_id AS entity_id, relationship_type AS role,
		false AS is_primary, created_at, removed_at FROM contact_users
	UNION ALL
	SELECT id, contact_id, 'account', account_id, coalesce(role, ''), is_primary, created_at, removed_at
	FROM contact_accounts) r`

func scanRelationship(row pgx.CollectableRow) (contact.Relationship, error) {
	var r contact.Relationship
	err := row.Scan(&r.ID, &r.ContactID, &r.EntityType, &r.EntityID, &r.Role, &r.IsPrimary, &r.CreatedAt, &r.RemovedAt)
	return r, err
}

// CurrentOf returns the current relationships of the contacts as q sees them (the pool, or a
// transaction), by contact id, in one query (the contact store shows them on every contact it
// returns).
func (s *Store) CurrentOf(ctx context.Context, q db.Querier, ids []uuid.UUID) (map[uuid.UUID][]contact.Relationship, error) {
	out := make(map[uuid.UUID][]contact.Relationship, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := q.Query(ctx, `SELECT `+relationshipColumns+` FROM `+relationshipsView+`
		WHERE contact_id = ANY($1) AND removed_at IS NULL ORDER BY contact_id, created_at, id`, ids)
	if err != nil {
		return nil, fmt.Errorf("relationship: relationships: %w", err)
	}
	rels, err := pgx.CollectRows(rows, scanRelationship)
	if err != nil {
		return nil, fmt.Errorf("relationship: relationships: %w", err)
	}
	for _, r := range rels {
		out[r.ContactID] = append(out[r.ContactID], r)
	}
	return out, nil
}

// ListRelationships returns a contact's current relationships, and its removed ones too when
// history is true, oldest first.
func (s *Store) ListRelationships(ctx context.Context, contactID uuid.UUID, history bool) ([]contact.Relationship, error) {
	if err := contact.Require(ctx, s.db.Pool, contactID, false); err != nil {
		return nil, err
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT `+relationshipColumns+` FROM `+relationshipsView+`
		WHERE contact_id = $1 AND ($2 OR removed_at IS NULL) ORDER BY created_at, id`, contactID, history)
	if err != nil {
		return nil, fmt.Errorf("relationship: relationships: %w", err)
	}
	rels, err := pgx.CollectRows(rows, scanRelationship)
	if err != nil {
		return nil, fmt.Errorf("relationship: relationships: %w", err)
	}
	return rels, nil
}

// AddRelationship relates a contact to a user or an account. Making the contact the primary
// contact of an account clears the account's previous primary in the same transaction.
func (s *Store) AddRelationship(ctx context.Context, contactID uuid.UUID, in contact.NewRelationship) (*contact.Relationship, error) {
	if err := contact.ValidateRelationship(&in); err != nil {
		return nil, err
	}
	var out contact.Relationship
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		if err := contact.Require(ctx, tx, contactID, true); err != nil {
			return err
		}
		a := contact.NewAudit(ctx)
		rels, err := addRelationships(ctx, tx, a, contactID, []contact.NewRelationship{in}, "")
		if err != nil {
			return err
		}
		out = rels[0]
		return a.Flush(ctx, tx)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// AddTx inserts validated relationships of a contact being created in tx, auditing them in a
// (see addRelationships).
func (s *Store) AddTx(ctx context.Context, tx pgx.Tx, a *contact.Audit, contactID uuid.UUID, in []contact.NewRelationship, prefix string) ([]contact.Relationship, error) {
	return addRelationships(ctx, tx, a, contactID, in, prefix)
}

// addRelationships inserts validated relationships of one contact. It checks that every entity
// exists with one query per entity type, naming each missing one as field
// prefix[i].entityId (or entityId when prefix is empty).
func addRelationships(ctx context.Context, tx pgx.Tx, a *contact.Audit, contactID uuid.UUID, in []contact.NewRelationship, prefix string) ([]contact.Relationship, error) {
	if len(in) == 0 {
		return nil, nil
	}
	field := func(i int, name string) string {
		if prefix == "" {
			return name
		}
		return fmt.Sprintf("%s[%d].%s", prefix, i, name)
	}
	var userIDs, accountIDs []uuid.UUID
	for _, r := range in {
		id := uuid.MustParse(r.EntityID)
		if contact.EntityType(r.EntityType) == contact.EntityUser {
			userIDs = append(userIDs, id)
		} else {
			accountIDs = append(accountIDs, id)
		}
	}
	users, err := existingIDs(ctx, tx, `SELECT id FROM users WHERE id = ANY($1)`, userIDs)
	if err != nil {
		return nil, err
	}
	accounts, err := existingIDs(ctx, tx, `SELECT id FROM accounts WHERE id = ANY($1)`, accountIDs)
	if err != nil {
		return nil, err
	}
	// Lock the accounts this contact becomes primary of, in id order so that concurrent
	// transactions cannot deadlock; clearing and setting a primary then serialize per account.
	// NO KEY UPDATE leaves plain relationship inserts (which take KEY SHARE) unblocked.
	var primaries []uuid.UUID
	for _, r := range in {
		if r.IsPrimary && contact.EntityType(r.EntityType) == contact.EntityAccount {
			primaries = append(primaries, uuid.MustParse(r.EntityID))
		}
	}
	if len(primaries) > 0 {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM accounts WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`, primaries); err != nil {
			return nil, fmt.Errorf("relationship: lock accounts: %w", err)
		}
	}
	var errs db.FieldErrors
	seen := map[string]int{}
	for i, r := range in {
		id := uuid.MustParse(r.EntityID)
		exists := users[id]
		if contact.EntityType(r.EntityType) == contact.EntityAccount {
			exists = accounts[id]
		}
		if !exists {
			errs.Add(field(i, "entityId"), "no %s has this id", r.EntityType)
		}
		key := r.EntityType + "/" + r.EntityID
		if contact.EntityType(r.EntityType) == contact.EntityUser {
			key += "/" + strings.ToLower(r.Role)
		}
		if j, dup := seen[key]; dup {
			errs.Add(field(i, "entityId"), "repeats relationships[%d]", j)
		}
		seen[key] = i
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	out := make([]contact.Relationship, 0, len(in))
	for _, r := range in {
		rel, err := insertRelationship(ctx, tx, a, contactID, r)
		if err != nil {
			return nil, err
		}
		out = append(out, rel)
	}
	return out, nil
}

func existingIDs(ctx context.Context, tx pgx.Tx, sql string, ids []uuid.UUID) (map[uuid.UUID]bool, error) {
	found := map[uuid.UUID]bool{}
	if len(ids) == 0 {
		return found, nil
	}
	rows, err := tx.Query(ctx, sql, ids)
	if err != nil {
		return nil, fmt.Errorf("relationship: look up entities: %w", err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("relationship: look up entities: %w", err)
	}
	for _, id := range got {
		found[id] = true
	}
	return found, nil
}

func insertRelationship(ctx context.Context, tx pgx.Tx, a *contact.Audit, contactID uuid.UUID, in contact.NewRelationship) (contact.Relationship, error) {
	r := contact.Relationship{
		ID: uuid.Must(uuid.NewV7()), ContactID: contactID, EntityType: contact.EntityType(in.EntityType),
		EntityID: uuid.MustParse(in.EntityID), Role: in.Role, IsPrimary: in.IsPrimary,
	}
	var err error
	if r.EntityType == contact.EntityUser {
		err = tx.QueryRow(ctx, `INSERT INTO contact_users (id, contact_id, user_id, relationship_type)
			VALUES ($1, $2, $3, $4) RETURNING created_at`, r.ID, contactID, r.EntityID, r.Role).Scan(&r.CreatedAt)
	} else {
		if r.IsPrimary {
			if err := clearPrimary(ctx, tx, a, r.EntityID, contactID); err != nil {
				return r, err
			}
		}
		err = tx.QueryRow(ctx, `INSERT INTO contact_accounts (id, contact_id, account_id, role, is_primary)
			VALUES ($1, $2, $3, $4, $5) RETURNING created_at`, r.ID, contactID, r.EntityID, contact.Nullable(r.Role), r.IsPrimary).Scan(&r.CreatedAt)
	}
	if db.Code(err) == db.CodeUniqueViolation {
		return r, &db.Error{Kind: db.KindConflict, Message: fmt.Sprintf("the contact already has a current relationship to this %s", r.EntityType)}
	}
	if err != nil {
		return r, fmt.Errorf("relationship: insert relationship: %w", err)
	}
	a.Add("create", "relationship", r.ID, &contactID, map[string]contact.Change{
		"entityType": {After: string(r.EntityType)}, "entityId": {After: r.EntityID.String()},
		"role": {After: r.Role}, "isPrimary": {After: r.IsPrimary},
	})
	return r, nil
}

// clearPrimary removes the primary flag from the account's current primary contact. The caller
// holds the account row's lock.
func clearPrimary(ctx context.Context, tx pgx.Tx, a *contact.Audit, accountID, newPrimary uuid.UUID) error {
	rows, err := tx.Query(ctx, `UPDATE contact_accounts SET is_primary = false
		WHERE account_id = $1 AND is_primary AND removed_at IS NULL RETURNING id, contact_id`, accountID)
	if err != nil {
		return fmt.Errorf("relationship: clear primary: %w", err)
	}
	type cleared struct{ ID, ContactID uuid.UUID }
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[cleared])
	if err != nil {
		return fmt.Errorf("relationship: clear primary: %w", err)
	}
	for _, c := range got {
		a.Add("update", "relationship", c.ID, &c.ContactID, map[string]contact.Change{
			"isPrimary": {Before: true, After: false},
			"reason":    {After: "contact " + newPrimary.String() + " became the account's primary"},
		})
	}
	return nil
}

// UpdateRelationship changes the role and primary flag of a contact's current relationship.
// The current version ends (it stays in the history, not primary, as a removed relationship
// does) and a new version with the new values and a new id takes its place, in one transaction
// audited as that removal and that addition; the new version is returned. Making an account
// relationship primary clears the account's previous primary as AddRelationship does. An
// update that changes nothing returns the relationship as it is. isPrimary true on a user
// relationship fails with KindInvalid naming isPrimary; an unknown or removed relationship with
// KindNotFound.
func (s *Store) UpdateRelationship(ctx context.Context, contactID, relID uuid.UUID, u contact.RelationshipUpdate) (*contact.Relationship, error) {
	if err := u.Validate(); err != nil {
		return nil, err
	}
	var out contact.Relationship
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		if err := contact.Require(ctx, tx, contactID, true); err != nil {
			return err
		}
		cur, err := currentRelationship(ctx, tx, contactID, relID)
		if err != nil {
			return err
		}
		if cur.EntityType == contact.EntityAccount {
			// Lock the account as adding a primary does, then read the flag again: a concurrent
			// change of the account's primary has committed by now and is not undone.
			if _, err := tx.Exec(ctx, `SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE`, cur.EntityID); err != nil {
				return fmt.Errorf("relationship: lock account: %w", err)
			}
			if cur, err = currentRelationship(ctx, tx, contactID, relID); err != nil {
				return err
			}
		}
		next := contact.NewRelationship{EntityType: string(cur.EntityType), EntityID: cur.EntityID.String(), Role: cur.Role, IsPrimary: cur.IsPrimary}
		if u.Role.Set {
			next.Role = u.Role.Value
			if u.Role.Null {
				next.Role = ""
			}
		}
		if u.IsPrimary.Set {
			next.IsPrimary = u.IsPrimary.Value && !u.IsPrimary.Null
		}
		if cur.EntityType == contact.EntityUser {
			if next.IsPrimary {
				return db.FieldErrors{{Field: "isPrimary", Message: "applies only to account relationships"}}.Err()
			}
			if next.Role == "" {
				next.Role = contact.DefaultUserRelationship
			}
		}
		if next.Role == cur.Role && next.IsPrimary == cur.IsPrimary {
			out = cur
			return nil
		}
		end := `UPDATE contact_users SET removed_at = now() WHERE id = $1`
		if cur.EntityType == contact.EntityAccount {
			end = `UPDATE contact_accounts SET removed_at = now(), is_primary = false WHERE id = $1`
		}
		if _, err := tx.Exec(ctx, end, relID); err != nil {
			return fmt.Errorf("relationship: end relationship %s: %w", relID, err)
		}
		a := contact.NewAudit(ctx)
		ended := map[string]contact.Change{}
		a.Add("delete", "relationship", relID, &contactID, ended)
		rel, err := insertRelationship(ctx, tx, a, contactID, next)
		if err != nil {
			return err
		}
		// ended is the removal's entry: it names its successor before the entries are written.
		ended["replacedBy"] = contact.Change{After: rel.ID.String()}
		out = rel
		return a.Flush(ctx, tx)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// currentRelationship reads a contact's current relationship, failing with KindNotFound when the
// contact has no current relationship with that id.
func currentRelationship(ctx context.Context, tx pgx.Tx, contactID, relID uuid.UUID) (contact.Relationship, error) {
	rows, err := tx.Query(ctx, `SELECT `+relationshipColumns+` FROM `+relationshipsView+`
		WHERE id = $1 AND contact_id = $2 AND removed_at IS NULL`, relID, contactID)
	if err != nil {
		return contact.Relationship{}, fmt.Errorf("relationship: relationship %s: %w", relID, err)
	}
	r, err := pgx.CollectExactlyOneRow(rows, scanRelationship)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, db.NotFound("relationship %s of contact %s not found or already removed", relID, contactID)
	}
	if err != nil {
		return r, fmt.Errorf("relationship: relationship %s: %w", relID, err)
	}
	return r, nil
}

// RemoveRelationship ends a contact's current relationship; it stays in the history.
func (s *Store) RemoveRelationship(ctx context.Context, contactID, relID uuid.UUID) error {
	return s.db.InTx(ctx, func(tx pgx.Tx) error {
		if err := contact.Require(ctx, tx, contactID, true); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE contact_users SET removed_at = now()
			WHERE id = $1 AND contact_id = $2 AND removed_at IS NULL`, relID, contactID)
		if err != nil {
			return fmt.Errorf("relationship: remove relationship: %w", err)
		}
		if tag.RowsAffected() == 0 {
			tag, err = tx.Exec(ctx, `UPDATE contact_accounts SET removed_at = now(), is_primary = false
				WHERE id = $1 AND contact_id = $2 AND removed_at IS NULL`, relID, contactID)
			if err != nil {
				return fmt.Errorf("relationship: remove relationship: %w", err)
			}
		}
		if tag.RowsAffected() == 0 {
			return db.NotFound("relationship %s of contact %s not found or already removed", relID, contactID)
		}
		a := contact.NewAudit(ctx)
		a.Add("delete", "relationship", relID, &contactID, nil)
		return a.Flush(ctx, tx)
	})
}
