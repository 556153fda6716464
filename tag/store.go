package tag

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Store keeps tags and contacts' tags in PostgreSQL. It is safe for concurrent use.
type Store struct {
	db *db.DB
}

// NewStore returns a Store over d. The database must be migrated.
func NewStore(d *db.DB) *Store { return &Store{db: d} }

// ensureTx returns the ids of the tags named (cleaned names), creating the missing ones in the
// spelling given.
func ensureTx(ctx context.Context, tx pgx.Tx, names []string) ([]uuid.UUID, error) {
	if len(names) == 0 {
		return nil, nil
	}
	keys, ids := make([]string, len(names)), make([]uuid.UUID, len(names))
	for i, n := range names {
		keys[i], ids[i] = Key(n), uuid.Must(uuid.NewV7())
	}
	// A concurrent insert of the same key is not seen by this statement's snapshot: the second
	// round sees it.
	for range 2 {
		rows, err := tx.Query(ctx, `
			WITH input AS (SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[]) AS i(name, key, id)),
			ins AS (INSERT INTO tags (id, name, name_key) SELECT id, name, key FROM input
				ON CONFLICT (name_key) DO NOTHING RETURNING id)
			SELECT id FROM ins UNION ALL SELECT t.id FROM tags t JOIN input i ON t.name_key = i.key`,
			names, keys, ids)
		if err != nil {
			return nil, fmt.Errorf("tag: create tags: %w", err)
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			return nil, fmt.Errorf("tag: create tags: %w", err)
		}
		if len(got) == len(names) {
			return got, nil
		}
	}
	return nil, errors.New("tag: create tags: a tag was created concurrently twice")
}

// TagsOf returns the contacts' tags in name order, by contact id (contact.Tagger).
func (s *Store) TagsOf(ctx context.Context, q db.Querier, ids []uuid.UUID) (map[uuid.UUID][]string, error) {
	out := map[uuid.UUID][]string{}
	if len(ids) == 0 {
		return out, nil
	}
	if q == nil {
		q = s.db.Pool
	}
	rows, err := q.Query(ctx, `SELECT ct.contact_id, t.name FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id
		WHERE ct.contact_id = ANY($1) ORDER BY ct.contact_id, t.name_key`, ids)
	if err != nil {
		return nil, fmt.Errorf("tag: read tags: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, fmt.Errorf("tag: read tags: %w", err)
		}
		out[id] = append(out[id], name)
	}
	return out, rows.Err()
}

// change is what one statement did to contacts' tags: the tag names added and removed, by
// contact.
type change struct {
	added, removed map[uuid.UUID][]string
}

func newChange() *change {
	return &change{added: map[uuid.UUID][]string{}, removed: map[uuid.UUID][]string{}}
}

// collect reads (contact_id, name) rows into m.
func collect(rows pgx.Rows, err error, m map[uuid.UUID][]string) error {
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return err
		}
		m[id] = append(m[id], name)
	}
	return rows.Err()
}

// contacts returns the changed contacts, sorted.
func (c *change) contacts() []uuid.UUID {
	var ids []uuid.UUID
	for id := range c.added {
		ids = append(ids, id)
	}
	for id := range c.removed {
		if _, ok := c.added[id]; !ok {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, db.CompareUUID)
	return ids
}

// audit records, for every changed contact, its tags before and after, as one entry each.
func (s *Store) audit(ctx context.Context, tx pgx.Tx, a *contact.Audit, action string, c *change) error {
	ids := c.contacts()
	if len(ids) == 0 {
		return nil
	}
	after, err := s.TagsOf(ctx, tx, ids)
	if err != nil {
		return err
	}
	for _, id := range ids {
		now := after[id]
		var before []string
		for _, t := range now {
			if !slices.ContainsFunc(c.added[id], func(n string) bool { return Key(n) == Key(t) }) {
				before = append(before, t)
			}
		}
		before = append(before, c.removed[id]...)
		slices.SortFunc(before, func(x, y string) int { return strings.Compare(Key(x), Key(y)) })
		if now == nil {
			now = []string{}
		}
		if before == nil {
			before = []string{}
		}
		a.Add(action, "contact", id, &id, map[string]contact.Change{"tags": {Before: before, After: now}})
	}
	return nil
}

// addTx gives the contacts the tags (ids) they lack, recording what it added in c.
func addTx(ctx context.Context, tx pgx.Tx, contactIDs, tagIDs []uuid.UUID, c *change) error {
	if len(contactIDs) == 0 || len(tagIDs) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `
		WITH ins AS (INSERT INTO contact_tags (contact_id, tag_id)
			SELECT c, t FROM unnest($1::uuid[]) AS c CROSS JOIN unnest($2::uuid[]) AS t
			ON CONFLICT DO NOTHING RETURNING contact_id, tag_id)
		SELECT ins.contact_id, t.name FROM ins JOIN tags t ON t.id = ins.tag_id`, contactIDs, tagIDs)
	if err := collect(rows, err, c.added); err != nil {
		return fmt.Errorf("tag: add tags: %w", err)
	}
	return nil
}

// removeTx takes the tags (keys) off the contacts, recording what it removed in c.
func removeTx(ctx context.Context, tx pgx.Tx, contactIDs []uuid.UUID, keys []string, c *change) error {
	if len(contactIDs) == 0 || len(keys) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `
		WITH del AS (DELETE FROM contact_tags ct USING tags t
			WHERE ct.tag_id = t.id AND ct.contact_id = ANY($1) AND t.name_key = ANY($2) RETURNING ct.contact_id, t.name)
		SELECT contact_id, name FROM del`, contactIDs, keys)
	if err := collect(rows, err, c.removed); err != nil {
		return fmt.Errorf("tag: remove tags: %w", err)
	}
	return nil
}

// SetTx replaces a contact's tags with names (cleaned, see Clean), auditing the change in a
// (contact.Tagger). It reports whether anything changed.
func (s *Store) SetTx(ctx context.Context, tx pgx.Tx, a *contact.Audit, contactID uuid.UUID, names []string) (bool, error) {
	cur, err := s.TagsOf(ctx, tx, []uuid.UUID{contactID})
	if err != nil {
		return false, err
	}
	want := map[string]bool{}
	for _, n := range names {
		want[Key(n)] = true
	}
	var drop []string
	for _, t := range cur[contactID] {
		if !want[Key(t)] {
			drop = append(drop, Key(t))
		}
	}
	ch := newChange()
	if err := removeTx(ctx, tx, []uuid.UUID{contactID}, drop, ch); err != nil {
		return false, err
	}
	tagIDs, err := ensureTx(ctx, tx, names)
	if err != nil {
		return false, err
	}
	if err := addTx(ctx, tx, []uuid.UUID{contactID}, tagIDs, ch); err != nil {
		return false, err
	}
	if len(ch.contacts()) == 0 {
		return false, nil
	}
	return true, s.audit(ctx, tx, a, "tags", ch)
}

// Add gives a contact the tags it lacks (names are cleaned here) and returns its tags.
func (s *Store) Add(ctx context.Context, contactID uuid.UUID, names []string) ([]string, error) {
	names, errs := Clean(names, "tags")
	if len(names) == 0 && len(errs) == 0 {
		errs.Add("tags", "must name at least one tag")
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return s.changeOne(ctx, contactID, func(tx pgx.Tx, ch *change) error {
		tagIDs, err := ensureTx(ctx, tx, names)
		if err != nil {
			return err
		}
		return addTx(ctx, tx, []uuid.UUID{contactID}, tagIDs, ch)
	})
}

// Remove takes a tag off a contact and returns its tags; a tag the contact does not have is
// not found.
func (s *Store) Remove(ctx context.Context, contactID uuid.UUID, name string) ([]string, error) {
	return s.changeOne(ctx, contactID, func(tx pgx.Tx, ch *change) error {
		if err := removeTx(ctx, tx, []uuid.UUID{contactID}, []string{Key(name)}, ch); err != nil {
			return err
		}
		if len(ch.removed) == 0 {
			return db.NotFound("contact %s has no tag %q", contactID, name)
		}
		return nil
	})
}

// changeOne runs fn on a locked, unmerged contact, audits what it changed and returns the
// contact's tags.
func (s *Store) changeOne(ctx context.Context, contactID uuid.UUID, fn func(tx pgx.Tx, ch *change) error) ([]string, error) {
	var out []string
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		if err := contact.Require(ctx, tx, contactID, true); err != nil {
			return err
		}
		ch := newChange()
		if err := fn(tx, ch); err != nil {
			return err
		}
		a := contact.NewAudit(ctx)
		if err := s.audit(ctx, tx, a, "tags", ch); err != nil {
			return err
		}
		if err := a.Flush(ctx, tx); err != nil {
			return err
		}
		tags, err := s.TagsOf(ctx, tx, []uuid.UUID{contactID})
		out = tags[contactID]
		return err
	})
	if out == nil {
		out = []string{}
	}
	return out, err
}

// List returns every tag with the number of active contacts that have it, by name.
func (s *Store) List(ctx context.Context) ([]Count, error) {
	rows, err := s.db.Pool.Query(ctx, `
		SELECT t.name, count(c.id) FROM tags t
		LEFT JOIN contact_tags ct ON ct.tag_id = t.id
		LEFT JOIN contacts c ON c.id = ct.contact_id AND c.status = 'active'
		GROUP BY t.id ORDER BY t.name_key`)
	if err != nil {
		return nil, fmt.Errorf("tag: list: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Count])
	if err != nil {
		return nil, fmt.Errorf("tag: list: %w", err)
	}
	return out, nil
}

// lockTag locks the tag named (case-insensitive) and returns its id and name.
func lockTag(ctx context.Context, tx pgx.Tx, name string) (uuid.UUID, string, error) {
	var id uuid.UUID
	var stored string
	err := tx.QueryRow(ctx, `SELECT id, name FROM tags WHERE name_key = $1 FOR UPDATE`, Key(name)).Scan(&id, &stored)
	if errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, "", db.NotFound("tag %q not found", name)
	}
	if err != nil {
		return uuid.Nil, "", fmt.Errorf("tag: lock %q: %w", name, err)
	}
	return id, stored, nil
}

// Rename renames a tag on every contact. When another tag already has the new name
// (case-insensitive) the tag is merged into it: its contacts get that tag and it is deleted.
// Renaming to the same name in another spelling changes the spelling. Every contact whose tags
// change is audited.
func (s *Store) Rename(ctx context.Context, name, to string) (Count, error) {
	to, err := CleanOne(to, "name")
	if err != nil {
		return Count{}, err
	}
	var out Count
	err = s.db.InTx(ctx, func(tx pgx.Tx) error {
		id, stored, err := lockTag(ctx, tx, name)
		if err != nil {
			return err
		}
		ch := newChange()
		var target uuid.UUID
		err = tx.QueryRow(ctx, `SELECT id FROM tags WHERE name_key = $1 AND id <> $2 FOR UPDATE`, Key(to), id).Scan(&target)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			if _, err := tx.Exec(ctx, `UPDATE tags SET name = $2, name_key = $3 WHERE id = $1`, id, to, Key(to)); err != nil {
				return fmt.Errorf("tag: rename %q: %w", name, err)
			}
			if stored != to {
				rows, err := tx.Query(ctx, `SELECT contact_id, $2::text FROM contact_tags WHERE tag_id = $1`, id, to)
				if err := collect(rows, err, ch.added); err != nil {
					return fmt.Errorf("tag: rename %q: %w", name, err)
				}
				for cid := range ch.added {
					ch.removed[cid] = []string{stored}
				}
			}
		case err != nil:
			return fmt.Errorf("tag: rename %q: %w", name, err)
		default:
			rows, err := tx.Query(ctx, `
				WITH ins AS (INSERT INTO contact_tags (contact_id, tag_id, created_at)
					SELECT contact_id, $2, created_at FROM contact_tags WHERE tag_id = $1
					ON CONFLICT DO NOTHING RETURNING contact_id)
				SELECT ins.contact_id, t.name FROM ins JOIN tags t ON t.id = $2`, id, target)
			if err := collect(rows, err, ch.added); err != nil {
				return fmt.Errorf("tag: merge %q: %w", name, err)
			}
			rows, err = tx.Query(ctx, `DELETE FROM contact_tags WHERE tag_id = $1 RETURNING contact_id, $2::text`, id, stored)
			if err := collect(rows, err, ch.removed); err != nil {
				return fmt.Errorf("tag: merge %q: %w", name, err)
			}
			if _, err := tx.Exec(ctx, `DELETE FROM tags WHERE id = $1`, id); err != nil {
				return fmt.Errorf("tag: merge %q: %w", name, err)
			}
			id = target
		}
		a := contact.NewAudit(ctx)
		if err := s.audit(ctx, tx, a, "tags", ch); err != nil {
			return err
		}
		if err := a.Flush(ctx, tx); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT t.name, count(c.id) FROM tags t
			LEFT JOIN contact_tags ct ON ct.tag_id = t.id
			LEFT JOIN contacts c ON c.id = ct.contact_id AND c.status = 'active'
			WHERE t.id = $1 GROUP BY t.id`, id).Scan(&out.Name, &out.Count)
	})
	return out, err
}

// Delete removes a tag from every contact and deletes it, auditing each contact.
func (s *Store) Delete(ctx context.Context, name string) error {
	return s.db.InTx(ctx, func(tx pgx.Tx) error {
		id, stored, err := lockTag(ctx, tx, name)
		if err != nil {
			return err
		}
		ch := newChange()
		rows, err := tx.Query(ctx, `DELETE FROM contact_tags WHERE tag_id = $1 RETURNING contact_id, $2::text`, id, stored)
		if err := collect(rows, err, ch.removed); err != nil {
			return fmt.Errorf("tag: delete %q: %w", name, err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM tags WHERE id = $1`, id); err != nil {
			return fmt.Errorf("tag: delete %q: %w", name, err)
		}
		a := contact.NewAudit(ctx)
		if err := s.audit(ctx, tx, a, "tags", ch); err != nil {
			return err
		}
		return a.Flush(ctx, tx)
	})
}
