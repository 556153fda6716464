package relationship

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/contactd/contactd/contact"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Concern is the contact.Owned concern of a contact's relationships to accounts and users
// (tables contact_accounts and contact_users): a merge moves the merged contacts' current
// relationships to the survivor, collapsing those to the same account or user, and an undo
// reverses that where nothing changed since.
var Concern contact.Owned = relationshipsOwned{}

type relationshipsOwned struct{}

func (relationshipsOwned) Name() string { return "relationships" }

func (relationshipsOwned) SnapshotSQL(v contact.SnapshotVars) string {
	return `jsonb_build_object(
		'users', (SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.id), '[]') FROM contact_users r WHERE r.contact_id = ANY(` + v.All + `)),
		'accounts', (SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.id), '[]') FROM contact_accounts r WHERE r.contact_id = ANY(` + v.All + `)))`
}

// LockTx locks the accounts the contacts are related to.
func (relationshipsOwned) LockTx(ctx context.Context, tx pgx.Tx, contactIDs []uuid.UUID) error {
	return lockAccountsOf(ctx, tx, contactIDs, nil)
}

// MergeTx moves the relationships of the merges whose contacts have any (most merges of a scan
// have none: one query finds which).
func (relationshipsOwned) MergeTx(ctx context.Context, tx pgx.Tx, ms []*contact.MergeSet) ([]json.RawMessage, error) {
	var all []uuid.UUID
	for _, m := range ms {
		all = append(all, m.All...)
	}
	rows, err := tx.Query(ctx, `SELECT contact_id FROM contact_accounts WHERE contact_id = ANY($1) AND removed_at IS NULL
		UNION SELECT contact_id FROM contact_users WHERE contact_id = ANY($1) AND removed_at IS NULL`, all)
	if err != nil {
		return nil, fmt.Errorf("relationship: read relationships: %w", err)
	}
	related, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("relationship: read relationships: %w", err)
	}
	out := make([]json.RawMessage, len(ms))
	for i, m := range ms {
		rc := &relChanges{PrimarySet: []uuid.UUID{}, RoleSet: []roleSet{}, Primaries: []primaryWas{}}
		if slices.ContainsFunc(related, func(id uuid.UUID) bool { return slices.Contains(m.All, id) }) {
			if rc, err = moveRelationships(ctx, tx, m.SurvivorID, m.All); err != nil {
				return nil, err
			}
		}
		if out[i], err = json.Marshal(rc); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (relationshipsOwned) UndoTx(ctx context.Context, tx pgx.Tx, u *contact.UndoSet) ([]string, error) {
	var rc relChanges
	if len(u.State) > 0 {
		if err := json.Unmarshal(u.State, &rc); err != nil {
			return nil, fmt.Errorf("relationship: relationship changes of merge %s: %w", u.MergeID, err)
		}
	}
	extra := make([]uuid.UUID, 0, len(rc.Primaries))
	for _, p := range rc.Primaries {
		extra = append(extra, p.AccountID)
	}
	if err := lockAccountsOf(ctx, tx, u.All, extra); err != nil {
		return nil, err
	}
	return restoreRelationships(ctx, tx, u.SurvivorID, &rc)
}

// EraseTx deletes the contacts' relationships, current and past.
func (relationshipsOwned) EraseTx(ctx context.Context, tx pgx.Tx, contactIDs []uuid.UUID) error {
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM contact_users WHERE contact_id = ANY($1)`, contactIDs)
	b.Queue(`DELETE FROM contact_accounts WHERE contact_id = ANY($1)`, contactIDs)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("relationship: erase relationships: %w", err)
	}
	return nil
}

// relChanges records what a merge did to relationships, so that UndoMerge can reverse it.
type relChanges struct {
	AccountsMoved []movedRel   `json:"accountsMoved"`
	AccountsEnded []movedRel   `json:"accountsEnded"`
	UsersMoved    []movedRel   `json:"usersMoved"`
	UsersEnded    []movedRel   `json:"usersEnded"`
	PrimarySet    []uuid.UUID  `json:"primarySet"`
	RoleSet       []roleSet    `json:"roleSet"`
	Primaries     []primaryWas `json:"primaries"`
}

type movedRel struct {
	ID       uuid.UUID `json:"id"`
	From     uuid.UUID `json:"from"`
	EntityID uuid.UUID `json:"entityId"`
}

type roleSet struct {
	ID     uuid.UUID `json:"id"`
	Before *string   `json:"before"`
	After  string    `json:"after"`
}

type primaryWas struct {
	ID        uuid.UUID `json:"id"`
	ContactID uuid.UUID `json:"contactId"`
	AccountID uuid.UUID `json:"accountId"`
}

// lockAccountsOf locks, in id order, the accounts the contacts are currently related to, and
// extra ones, so that no primary flag of theirs changes under a merge or an undo.
func lockAccountsOf(ctx context.Context, tx pgx.Tx, contactIDs, extra []uuid.UUID) error {
	_, err := tx.Exec(ctx, `SELECT 1 FROM accounts WHERE id IN (
			SELECT account_id FROM contact_accounts WHERE contact_id = ANY($1) AND removed_at IS NULL
			UNION SELECT unnest($2::uuid[]))
		ORDER BY id FOR NO KEY UPDATE`, contactIDs, extra)
	if err != nil {
		return fmt.Errorf("relationship: lock accounts: %w", err)
	}
	return nil
}

// moveRelationships moves the current relationships of the merged contacts to the survivor.
// Relationships to the same account (or to the same user with the same type) collapse into one:
// the survivor's when it has one, else the oldest; the others end. The kept relationship is the
// account's primary when any of them was, and takes a role from them when it has none. The
// caller holds the locks of the contacts and of their accounts.
func moveRelationships(ctx context.Context, tx pgx.Tx, survivorID uuid.UUID, all []uuid.UUID) (*relChanges, error) {
	rc := &relChanges{PrimarySet: []uuid.UUID{}, RoleSet: []roleSet{}, Primaries: []primaryWas{}}
	if err := planAccounts(ctx, tx, survivorID, all, rc); err != nil {
		return nil, err
	}
	if err := planUsers(ctx, tx, survivorID, all, rc); err != nil {
		return nil, err
	}
	relIDs := func(rs []movedRel) []uuid.UUID {
		out := make([]uuid.UUID, len(rs))
		for i, r := range rs {
			out[i] = r.ID
		}
		return out
	}
	roleIDs, roles := make([]uuid.UUID, len(rc.RoleSet)), make([]string, len(rc.RoleSet))
	for i, r := range rc.RoleSet {
		roleIDs[i], roles[i] = r.ID, r.After
	}
	b := &pgx.Batch{}
	// End first, so that neither the one-current-relationship nor the one-primary index sees two.
	b.Queue(`UPDATE contact_accounts SET removed_at = now(), is_primary = false WHERE id = ANY($1)`, relIDs(rc.AccountsEnded))
	b.Queue(`UPDATE contact_users SET removed_at = now() WHERE id = ANY($1)`, relIDs(rc.UsersEnded))
	b.Queue(`UPDATE contact_accounts SET contact_id = $1 WHERE id = ANY($2)`, survivorID, relIDs(rc.AccountsMoved))
	b.Queue(`UPDATE contact_users SET contact_id = $1 WHERE id = ANY($2)`, survivorID, relIDs(rc.UsersMoved))
	b.Queue(`UPDATE contact_accounts SET is_primary = true WHERE id = ANY($1)`, rc.PrimarySet)
	b.Queue(`UPDATE contact_accounts c SET role = u.role FROM unnest($1::uuid[], $2::text[]) AS u(id, role) WHERE c.id = u.id`, roleIDs, roles)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("relationship: move relationships: %w", err)
	}
	return rc, nil
}

// planAccounts records in rc what the merge does to the current account relationships of its
// contacts: per account, which one is kept, which end, which primary flag and role move.
func planAccounts(ctx context.Context, tx pgx.Tx, survivorID uuid.UUID, all []uuid.UUID, rc *relChanges) error {
	type accRow struct {
		ID, ContactID, AccountID uuid.UUID
		Role                     *string
		IsPrimary                bool
	}
	rows, err := tx.Query(ctx, `SELECT id, contact_id, account_id, role, is_primary FROM contact_accounts
		WHERE contact_id = ANY($1) AND removed_at IS NULL ORDER BY account_id, created_at, id`, all)
	if err != nil {
		return fmt.Errorf("relationship: read relationships: %w", err)
	}
	accs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[accRow])
	if err != nil {
		return fmt.Errorf("relationship: read relationships: %w", err)
	}
	for start := 0; start < len(accs); {
		end := start
		for end < len(accs) && accs[end].AccountID == accs[start].AccountID {
			end++
		}
		group := accs[start:end]
		start = end
		keep := 0
		for i, r := range group {
			if r.ContactID == survivorID {
				keep = i
			}
		}
		k := group[keep]
		primary := false
		var role *string
		for i, r := range group {
			if r.IsPrimary {
				primary = true
				rc.Primaries = append(rc.Primaries, primaryWas{r.ID, r.ContactID, r.AccountID})
			}
			if role == nil && r.Role != nil && *r.Role != "" {
				role = r.Role
			}
			if i != keep {
				rc.AccountsEnded = append(rc.AccountsEnded, movedRel{r.ID, r.ContactID, r.AccountID})
			}
		}
		if k.ContactID != survivorID {
			rc.AccountsMoved = append(rc.AccountsMoved, movedRel{k.ID, k.ContactID, k.AccountID})
		}
		if primary && !k.IsPrimary {
			rc.PrimarySet = append(rc.PrimarySet, k.ID)
		}
		if (k.Role == nil || *k.Role == "") && role != nil {
			rc.RoleSet = append(rc.RoleSet, roleSet{k.ID, k.Role, *role})
		}
	}
	return nil
}

// planUsers records in rc what the merge does to the current user relationships of its
// contacts: per user and relationship type, which one is kept and which end.
func planUsers(ctx context.Context, tx pgx.Tx, survivorID uuid.UUID, all []uuid.UUID, rc *relChanges) error {
	type userRow struct {
		ID, ContactID, UserID uuid.UUID
		Type                  string
	}
	rows, err := tx.Query(ctx, `SELECT id, contact_id, user_id, lower(relationship_type) FROM contact_users
		WHERE contact_id = ANY($1) AND removed_at IS NULL ORDER BY user_id, lower(relationship_type), created_at, id`, all)
	if err != nil {
		return fmt.Errorf("relationship: read relationships: %w", err)
	}
	users, err := pgx.CollectRows(rows, pgx.RowToStructByPos[userRow])
	if err != nil {
		return fmt.Errorf("relationship: read relationships: %w", err)
	}
	for start := 0; start < len(users); {
		end := start
		for end < len(users) && users[end].UserID == users[start].UserID && users[end].Type == users[start].Type {
			end++
		}
		group := users[start:end]
		start = end
		keep := 0
		for i, r := range group {
			if r.ContactID == survivorID {
				keep = i
			}
		}
		for i, r := range group {
			switch {
			case i != keep:
				rc.UsersEnded = append(rc.UsersEnded, movedRel{r.ID, r.ContactID, r.UserID})
			case r.ContactID != survivorID:
				rc.UsersMoved = append(rc.UsersMoved, movedRel{r.ID, r.ContactID, r.UserID})
			}
		}
	}
	return nil
}

// restoreRelationships reverses what a merge did to relationships (rc), where they are still as
// the merge left them, and reports those that are not.
func restoreRelationships(ctx context.Context, tx pgx.Tx, survivorID uuid.UUID, rc *relChanges) ([]string, error) {
	var report []string
	exec := func(sql string, args ...any) (int64, error) {
		tag, err := tx.Exec(ctx, sql, args...)
		if err != nil {
			return 0, fmt.Errorf("relationship: restore relationships: %w", err)
		}
		return tag.RowsAffected(), nil
	}
	if _, err := exec(`UPDATE contact_accounts SET is_primary = false WHERE id = ANY($1) AND is_primary AND removed_at IS NULL`, rc.PrimarySet); err != nil {
		return nil, err
	}
	for _, r := range rc.RoleSet {
		n, err := exec(`UPDATE contact_accounts SET role = $2 WHERE id = $1 AND role IS NOT DISTINCT FROM $3`, r.ID, r.Before, r.After)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			report = append(report, fmt.Sprintf("survivor.relationships[%s].role changed since the merge; kept", r.ID))
		}
	}
	for _, r := range rc.AccountsMoved {
		n, err := exec(`UPDATE contact_accounts SET contact_id = $2, is_primary = false
			WHERE id = $1 AND contact_id = $3 AND removed_at IS NULL`, r.ID, r.From, survivorID)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			report = append(report, fmt.Sprintf("contacts[%s].relationships: the one to account %s was removed from the survivor since the merge; not restored", r.From, r.EntityID))
		}
	}
	for _, r := range rc.UsersMoved {
		n, err := exec(`UPDATE contact_users SET contact_id = $2 WHERE id = $1 AND contact_id = $3 AND removed_at IS NULL`, r.ID, r.From, survivorID)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			report = append(report, fmt.Sprintf("contacts[%s].relationships: the one to user %s was removed from the survivor since the merge; not restored", r.From, r.EntityID))
		}
	}
	ended := func(rs []movedRel) []uuid.UUID {
		out := make([]uuid.UUID, len(rs))
		for i, r := range rs {
			out[i] = r.ID
		}
		return out
	}
	if _, err := exec(`UPDATE contact_accounts SET removed_at = NULL WHERE id = ANY($1) AND contact_id <> $2`, ended(rc.AccountsEnded), survivorID); err != nil {
		return nil, err
	}
	if _, err := exec(`UPDATE contact_users SET removed_at = NULL WHERE id = ANY($1) AND contact_id <> $2`, ended(rc.UsersEnded), survivorID); err != nil {
		return nil, err
	}
	for _, p := range rc.Primaries {
		n, err := exec(`UPDATE contact_accounts SET is_primary = true
			WHERE id = $1 AND removed_at IS NULL AND NOT is_primary AND NOT EXISTS (
				SELECT 1 FROM contact_accounts WHERE account_id = $2 AND is_primary AND removed_at IS NULL)`, p.ID, p.AccountID)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			continue
		}
		var ok bool
		if err := tx.QueryRow(ctx, `SELECT count(*) > 0 FROM contact_accounts WHERE id = $1 AND is_primary AND removed_at IS NULL`, p.ID).Scan(&ok); err != nil {
			return nil, fmt.Errorf("relationship: restore relationships: %w", err)
		}
		if !ok {
			report = append(report, fmt.Sprintf("contacts[%s].relationships: primary contact of account %s not restored (the account has another primary contact now, or the relationship was removed)", p.ContactID, p.AccountID))
		}
	}
	return report, nil
}
