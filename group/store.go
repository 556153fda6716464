package group

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Concern is the contact.Owned concern of group memberships: a merge makes the survivor a
// member of every static group any of its contacts was in; an undo reverses that.
var Concern contact.Owned = contact.UnionRows{Concern: "groups", Table: "group_members", Column: "contact_id", Other: "group_id", Parent: "contact_groups"}

// The kinds of group.
const (
	KindStatic = "static"
	KindSmart  = "smart"
)

// MaxNameLen bounds a group's name.
const MaxNameLen = 100

// MaxMembersPerRequest bounds the contacts one request adds.
const MaxMembersPerRequest = 10000

// Group is a named group of contacts.
type Group struct {
	ID   uuid.UUID
	Name string
	Kind string
	// Filter is a smart group's filter as the list's query parameters (nil for static groups).
	Filter    url.Values
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Store keeps groups and their members. It is safe for concurrent use.
type Store struct {
	db *db.DB
}

// NewStore returns a Store over d. The database must be migrated.
func NewStore(d *db.DB) *Store { return &Store{db: d} }

// cleanName trims a name and checks it.
func cleanName(name string, errs *db.FieldErrors) string {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		errs.Add("name", "is required")
	case !utf8.ValidString(name):
		errs.Add("name", "must be valid UTF-8")
	case utf8.RuneCountInString(name) > MaxNameLen:
		errs.Add("name", "must be at most %d characters", MaxNameLen)
	case strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		errs.Add("name", "must not contain control characters")
	}
	return name
}

// CheckFilter reports what is wrong with a smart group's filter, naming filter.<param>.
func CheckFilter(q url.Values) db.FieldErrors {
	var errs db.FieldErrors
	for _, k := range contact.UnknownParams(q) {
		errs.Add("filter."+k, "is not a filter of the list")
	}
	_, ferrs := contact.ParseFilter(q)
	for _, e := range ferrs {
		errs.Add("filter."+e.Field, "%s", e.Message)
	}
	return errs
}

// nameTaken turns a unique violation on the name into a conflict.
func nameTaken(err error, name string) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return db.Conflict("a group named %q already exists", name)
	}
	return err
}

// Create stores a group: smart when filter is not nil (it may be empty: every active
// contact), static otherwise. Names are unique, case-insensitively.
func (s *Store) Create(ctx context.Context, name string, filter url.Values) (*Group, error) {
	var errs db.FieldErrors
	g := &Group{ID: uuid.Must(uuid.NewV7()), Name: cleanName(name, &errs), Kind: KindStatic, Filter: filter}
	var stored *string
	if filter != nil {
		errs = append(errs, CheckFilter(filter)...)
		g.Kind = KindSmart
		enc := filter.Encode()
		stored = &enc
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	err := s.db.WriteRow(ctx, func(r pgx.Row) error { return r.Scan(&g.CreatedAt, &g.UpdatedAt) },
		`INSERT INTO contact_groups (id, name, name_key, kind, filter) VALUES ($1, $2, lower($2), $3, $4)
		RETURNING created_at, updated_at`, g.ID, g.Name, g.Kind, stored)
	if err != nil {
		return nil, fmt.Errorf("group: create: %w", nameTaken(err, g.Name))
	}
	return g, nil
}

const groupColumns = `id, name, kind, filter, created_at, updated_at`

func scanGroup(row pgx.Row) (*Group, error) {
	var g Group
	var filter *string
	if err := row.Scan(&g.ID, &g.Name, &g.Kind, &filter, &g.CreatedAt, &g.UpdatedAt); err != nil {
		return nil, err
	}
	if filter != nil {
		q, err := url.ParseQuery(*filter)
		if err != nil {
			return nil, fmt.Errorf("group %s: stored filter: %w", g.ID, err)
		}
		g.Filter = q
	}
	return &g, nil
}

// Get returns a group.
func (s *Store) Get(ctx context.Context, id uuid.UUID) (*Group, error) {
	return get(ctx, s.db.Pool, id, false)
}

func get(ctx context.Context, q db.Querier, id uuid.UUID, lock bool) (*Group, error) {
	sql := `SELECT ` + groupColumns + ` FROM contact_groups WHERE id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	g, err := scanGroup(q.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, db.NotFound("group %s not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("group: get %s: %w", id, err)
	}
	return g, nil
}

// List returns every group by name.
func (s *Store) List(ctx context.Context) ([]*Group, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT `+groupColumns+` FROM contact_groups ORDER BY name_key`)
	if err != nil {
		return nil, fmt.Errorf("group: list: %w", err)
	}
	defer rows.Close()
	var out []*Group
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			return nil, fmt.Errorf("group: list: %w", err)
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// Update renames a group (name not nil) and replaces a smart group's filter (filter not nil;
// a static group has none to replace).
func (s *Store) Update(ctx context.Context, id uuid.UUID, name *string, filter url.Values) (*Group, error) {
	var out *Group
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		g, err := get(ctx, tx, id, true)
		if err != nil {
			return err
		}
		var errs db.FieldErrors
		if name != nil {
			g.Name = cleanName(*name, &errs)
		}
		if filter != nil {
			if g.Kind != KindSmart {
				errs.Add("filter", "a static group has no filter; create a smart group")
			} else {
				errs = append(errs, CheckFilter(filter)...)
				g.Filter = filter
			}
		}
		if err := errs.Err(); err != nil {
			return err
		}
		var stored *string
		if g.Filter != nil {
			enc := g.Filter.Encode()
			stored = &enc
		}
		err = tx.QueryRow(ctx, `UPDATE contact_groups SET name = $2, name_key = lower($2), filter = $3, updated_at = now()
			WHERE id = $1 RETURNING updated_at`, id, g.Name, stored).Scan(&g.UpdatedAt)
		if err != nil {
			return fmt.Errorf("group: update %s: %w", id, nameTaken(err, g.Name))
		}
		out = g
		return nil
	})
	return out, err
}

// Delete deletes a group; each member's leaving is audited.
func (s *Store) Delete(ctx context.Context, id uuid.UUID) error {
	return s.db.InTx(ctx, func(tx pgx.Tx) error {
		g, err := get(ctx, tx, id, true)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `DELETE FROM group_members WHERE group_id = $1 RETURNING contact_id`, id)
		if err != nil {
			return fmt.Errorf("group: delete %s: %w", id, err)
		}
		left, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			return fmt.Errorf("group: delete %s: %w", id, err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM contact_groups WHERE id = $1`, id); err != nil {
			return fmt.Errorf("group: delete %s: %w", id, err)
		}
		a := contact.NewAudit(ctx)
		auditMembership(a, g, left, false)
		return a.Flush(ctx, tx)
	})
}

// auditMembership records that contacts joined (or left) g.
func auditMembership(a *contact.Audit, g *Group, contactIDs []uuid.UUID, joined bool) {
	ch := contact.Change{Before: g.Name}
	action := "group.remove"
	if joined {
		ch = contact.Change{After: g.Name}
		action = "group.add"
	}
	for _, id := range contactIDs {
		a.Add(action, "contact", id, &id, map[string]contact.Change{"group:" + g.ID.String(): ch})
	}
}

// staticGroup locks a group and fails unless it is static.
func staticGroup(ctx context.Context, tx pgx.Tx, id uuid.UUID) (*Group, error) {
	g, err := get(ctx, tx, id, true)
	if err != nil {
		return nil, err
	}
	if g.Kind != KindStatic {
		return nil, db.Conflict("group %s is a smart group: its members are what its filter selects", id)
	}
	return g, nil
}

// AddMembers adds contacts to a static group and returns how many were not members yet. Each
// contact must exist and not be merged (else an invalid contactIds[i]).
func (s *Store) AddMembers(ctx context.Context, id uuid.UUID, contactIDs []uuid.UUID) (int, error) {
	if len(contactIDs) == 0 {
		return 0, db.Invalid("contactIds", "must name at least one contact")
	}
	if len(contactIDs) > MaxMembersPerRequest {
		return 0, db.Invalid("contactIds", "must have at most %d ids", MaxMembersPerRequest)
	}
	added := 0
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		g, err := staticGroup(ctx, tx, id)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id FROM contacts WHERE id = ANY($1) AND status <> 'merged' FOR SHARE`, contactIDs)
		if err != nil {
			return fmt.Errorf("group: add members: %w", err)
		}
		found, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			return fmt.Errorf("group: add members: %w", err)
		}
		have := map[uuid.UUID]bool{}
		for _, c := range found {
			have[c] = true
		}
		var errs db.FieldErrors
		for i, c := range contactIDs {
			if !have[c] {
				errs.Add(fmt.Sprintf("contactIds[%d]", i), "no such contact, or it was merged into another")
			}
		}
		if err := errs.Err(); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `INSERT INTO group_members (group_id, contact_id) SELECT $1, c FROM unnest($2::uuid[]) AS c
			ON CONFLICT DO NOTHING RETURNING contact_id`, id, found)
		if err != nil {
			return fmt.Errorf("group: add members: %w", err)
		}
		joined, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			return fmt.Errorf("group: add members: %w", err)
		}
		added = len(joined)
		a := contact.NewAudit(ctx)
		auditMembership(a, g, joined, true)
		return a.Flush(ctx, tx)
	})
	return added, err
}

// RemoveMember removes a contact from a static group; a contact that is not a member is not
// found.
func (s *Store) RemoveMember(ctx context.Context, id, contactID uuid.UUID) error {
	return s.db.InTx(ctx, func(tx pgx.Tx) error {
		g, err := staticGroup(ctx, tx, id)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM group_members WHERE group_id = $1 AND contact_id = $2`, id, contactID)
		if err != nil {
			return fmt.Errorf("group: remove member: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return db.NotFound("contact %s is not a member of group %s", contactID, id)
		}
		a := contact.NewAudit(ctx)
		auditMembership(a, g, []uuid.UUID{contactID}, false)
		return a.Flush(ctx, tx)
	})
}

// maxDepth bounds how deep smart groups may select by other groups.
const maxDepth = 5

// Resolve sets what f's group selects (contact.Filter.Group), following smart groups that
// select by other groups. An unknown group, or smart groups that select by each other in a
// cycle, is an invalid "group".
func (s *Store) Resolve(ctx context.Context, f *contact.Filter) error {
	if err := s.resolve(ctx, f, map[uuid.UUID]bool{}, 0); err != nil {
		return err
	}
	// Custom field conditions (cf.<key>), the filter's and its smart groups'.
	return contact.ResolveCustom(ctx, s.db.Pool, f)
}

func (s *Store) resolve(ctx context.Context, f *contact.Filter, seen map[uuid.UUID]bool, depth int) error {
	if f.GroupID == nil {
		return nil
	}
	id := *f.GroupID
	if seen[id] || depth >= maxDepth {
		return db.Invalid("group", "smart groups select by each other in a cycle or more than %d deep", maxDepth)
	}
	seen[id] = true
	g, err := s.Get(ctx, id)
	if db.ErrorKind(err) == db.KindNotFound {
		return db.Invalid("group", "no group %s", id)
	}
	if err != nil {
		return err
	}
	if g.Kind == KindStatic {
		f.Group = &contact.GroupSelection{Static: &g.ID}
		return nil
	}
	inner, errs := contact.ParseFilter(g.Filter)
	if err := errs.Err(); err != nil {
		return fmt.Errorf("group %s: stored filter: %w", id, err)
	}
	if err := s.resolve(ctx, &inner, seen, depth+1); err != nil {
		return err
	}
	f.Group = &contact.GroupSelection{Smart: &inner}
	return nil
}
