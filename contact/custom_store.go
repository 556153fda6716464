package contact

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/contactd/contactd/contactfile"
	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// customDefsLockSQL and customDefsSharedSQL are the lock that orders changes of definitions
// against writes of values: a write holds it shared from reading the definitions until it
// commits, a definition change holds it exclusively. So a field cannot become unique or
// required, lose an option or be deleted under a write that validated against its old form.
const (
	customDefsLockSQL   = `SELECT pg_advisory_xact_lock(hashtextextended('custom_fields', 7003))`
	customDefsSharedSQL = `SELECT pg_advisory_xact_lock_shared(hashtextextended('custom_fields', 7003))`
	// customValueLockSQL serializes the writers of one value of one unique field, as
	// lockEmailSQL does for emails.
	customValueLockSQL = `SELECT pg_advisory_xact_lock(hashtextextended($1, 7004))`
)

const customFieldColumns = `key, label, type, options, required, "unique", created_at, updated_at`

func scanCustomField(row pgx.Row) (*CustomField, error) {
	var d CustomField
	err := row.Scan(&d.Key, &d.Label, &d.Type, &d.Options, &d.Required, &d.Unique, &d.CreatedAt, &d.UpdatedAt)
	return &d, err
}

// ListCustomFields returns every custom field definition, by key.
func (s *Store) ListCustomFields(ctx context.Context) ([]*CustomField, error) {
	return listCustomFields(ctx, s.db.Pool)
}

func listCustomFields(ctx context.Context, q db.Querier) ([]*CustomField, error) {
	rows, err := q.Query(ctx, `SELECT `+customFieldColumns+` FROM custom_fields ORDER BY key`)
	if err != nil {
		return nil, fmt.Errorf("contact: list custom fields: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*CustomField, error) { return scanCustomField(r) })
	if err != nil {
		return nil, fmt.Errorf("contact: list custom fields: %w", err)
	}
	return out, nil
}

// GetCustomField returns the definition with the key.
func (s *Store) GetCustomField(ctx context.Context, key string) (*CustomField, error) {
	d, err := scanCustomField(s.db.Pool.QueryRow(ctx, `SELECT `+customFieldColumns+` FROM custom_fields WHERE key = $1`, key))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, db.NotFound("custom field %q not found", key)
	}
	if err != nil {
		return nil, fmt.Errorf("contact: get custom field %s: %w", key, err)
	}
	return d, nil
}

// CustomDefinitions returns the definitions by key as the pool sees them now (for readers:
// filters, imports' column mapping, exports).
func (s *Store) CustomDefinitions(ctx context.Context) (Definitions, error) {
	list, err := listCustomFields(ctx, s.db.Pool)
	if err != nil {
		return nil, err
	}
	return definitionsOf(list), nil
}

func definitionsOf(list []*CustomField) Definitions {
	out := make(Definitions, len(list))
	for _, d := range list {
		out[d.Key] = d
	}
	return out
}

// DefinitionsTx takes the definitions' lock shared in tx and returns them: a writer of values
// validates against definitions that cannot change before it commits.
func DefinitionsTx(ctx context.Context, tx pgx.Tx) (Definitions, error) {
	if _, err := tx.Exec(ctx, customDefsSharedSQL); err != nil {
		return nil, fmt.Errorf("contact: lock custom fields: %w", err)
	}
	list, err := listCustomFields(ctx, tx)
	if err != nil {
		return nil, err
	}
	return definitionsOf(list), nil
}

// CreateCustomField validates and stores a definition, auditing it. A key or label (in any
// case) already taken is a conflict naming it.
func (s *Store) CreateCustomField(ctx context.Context, d CustomField) (*CustomField, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	var out *CustomField
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, customDefsLockSQL); err != nil {
			return fmt.Errorf("contact: lock custom fields: %w", err)
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM custom_fields`).Scan(&n); err != nil {
			return fmt.Errorf("contact: count custom fields: %w", err)
		}
		if n >= MaxCustomFields {
			return db.Conflict("there are already %d custom fields, the most there may be", MaxCustomFields)
		}
		if err := labelFree(ctx, tx, d.Key, d.Label); err != nil {
			return err
		}
		id := uuid.Must(uuid.NewV7())
		got, err := scanCustomField(tx.QueryRow(ctx, `INSERT INTO custom_fields (id, key, label, type, options, required, "unique")
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (key) DO NOTHING RETURNING `+customFieldColumns,
			id, d.Key, d.Label, d.Type, d.Options, d.Required, d.Unique))
		if errors.Is(err, pgx.ErrNoRows) {
			return fieldConflict("key", "custom field %q already exists", d.Key)
		}
		if err != nil {
			return fmt.Errorf("contact: create custom field: %w", err)
		}
		a := NewAudit(ctx)
		a.Add("create", "custom_field", id, nil, definitionChanges(nil, got))
		out = got
		return a.Flush(ctx, tx)
	})
	return out, err
}

// labelFree fails with a conflict naming label when another field (not key) has that label or
// that key: import columns are matched by either.
func labelFree(ctx context.Context, tx pgx.Tx, key, label string) error {
	var other string
	err := tx.QueryRow(ctx, `SELECT key FROM custom_fields WHERE key <> $1 AND (lower(label) = lower($2) OR key = lower($2)) LIMIT 1`,
		key, label).Scan(&other)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("contact: check custom field label: %w", err)
	}
	return fieldConflict("label", "custom field %q already has the label or key %q", other, label)
}

func fieldConflict(field, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &db.Error{Kind: db.KindConflict, Message: msg, Fields: []db.FieldError{{Field: field, Message: msg}}}
}

// UpdateCustomField changes a definition's label, options, required or unique. Making it
// unique fails with a conflict while two active contacts share a value; removing an option
// fails while a contact has it. Making it required applies to writes from then on: a new
// contact must have a value and no write may remove one, but existing contacts without one are
// not rejected for unrelated changes.
func (s *Store) UpdateCustomField(ctx context.Context, key string, p CustomFieldPatch) (*CustomField, error) {
	var out *CustomField
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, customDefsLockSQL); err != nil {
			return fmt.Errorf("contact: lock custom fields: %w", err)
		}
		var id uuid.UUID
		row := tx.QueryRow(ctx, `SELECT id, `+customFieldColumns+` FROM custom_fields WHERE key = $1`, key)
		var d CustomField
		err := row.Scan(&id, &d.Key, &d.Label, &d.Type, &d.Options, &d.Required, &d.Unique, &d.CreatedAt, &d.UpdatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return db.NotFound("custom field %q not found", key)
		}
		if err != nil {
			return fmt.Errorf("contact: get custom field %s: %w", key, err)
		}
		next, err := p.apply(d)
		if err != nil {
			return err
		}
		if err := labelFree(ctx, tx, key, next.Label); err != nil {
			return err
		}
		if next.Unique && !d.Unique {
			if err := checkNoDuplicates(ctx, tx, key); err != nil {
				return err
			}
		}
		if err := checkOptionsUnused(ctx, tx, &d, next.Options); err != nil {
			return err
		}
		got, err := scanCustomField(tx.QueryRow(ctx, `UPDATE custom_fields SET label = $2, options = $3, required = $4,
			"unique" = $5, updated_at = now() WHERE key = $1 RETURNING `+customFieldColumns,
			key, next.Label, next.Options, next.Required, next.Unique))
		if err != nil {
			return fmt.Errorf("contact: update custom field %s: %w", key, err)
		}
		if ch := definitionChanges(&d, got); len(ch) > 0 {
			a := NewAudit(ctx)
			a.Add("update", "custom_field", id, nil, ch)
			if err := a.Flush(ctx, tx); err != nil {
				return err
			}
		}
		out = got
		return nil
	})
	return out, err
}

func checkNoDuplicates(ctx context.Context, tx pgx.Tx, key string) error {
	var v json.RawMessage
	var n int
	err := tx.QueryRow(ctx, `SELECT custom_fields -> $1, count(*) FROM contacts
		WHERE status = 'active' AND custom_fields ? $1 GROUP BY 1 HAVING count(*) > 1 LIMIT 1`, key).Scan(&v, &n)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("contact: check custom field %s is unique: %w", key, err)
	}
	return fieldConflict("unique", "%d active contacts have the value %s of %s; make them distinct first", n, v, key)
}

func checkOptionsUnused(ctx context.Context, tx pgx.Tx, d *CustomField, next []string) error {
	if d.Type != CustomEnum && d.Type != CustomMultiEnum {
		return nil
	}
	var removed []string
	for _, o := range d.Options {
		if !slices.Contains(next, o) {
			removed = append(removed, o)
		}
	}
	if len(removed) == 0 {
		return nil
	}
	var n int
	err := tx.QueryRow(ctx, `SELECT count(*) FROM contacts WHERE status <> 'merged' AND custom_fields ? $1 AND (
		custom_fields ->> $1 = ANY($2) OR (jsonb_typeof(custom_fields -> $1) = 'array' AND custom_fields -> $1 ?| $2))`,
		d.Key, removed).Scan(&n)
	if err != nil {
		return fmt.Errorf("contact: check options of %s: %w", d.Key, err)
	}
	if n > 0 {
		return fieldConflict("options", "%d contacts have an option this removes (%s); change them first", n, strings.Join(removed, ", "))
	}
	return nil
}

// definitionChanges lists what differs between two definitions, for the audit log.
func definitionChanges(before, after *CustomField) map[string]Change {
	ch := map[string]Change{}
	if before == nil {
		before = &CustomField{}
	}
	add := func(name string, b, a any) {
		if !customEqual(b, a) {
			ch[name] = Change{Before: b, After: a}
		}
	}
	add("key", before.Key, after.Key)
	add("label", before.Label, after.Label)
	add("type", string(before.Type), string(after.Type))
	add("options", before.Options, after.Options)
	add("required", before.Required, after.Required)
	add("unique", before.Unique, after.Unique)
	return ch
}

// DeleteCustomField removes a definition and its values from every contact. Each contact that
// had a value gets an audited update (customFields.<key>: before the value, after null), so
// the data stays readable in its history; the values are gone from the contacts. It reports
// how many contacts lost a value.
func (s *Store) DeleteCustomField(ctx context.Context, key string) (int64, error) {
	var n int64
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, customDefsLockSQL); err != nil {
			return fmt.Errorf("contact: lock custom fields: %w", err)
		}
		var d CustomField
		var id uuid.UUID
		err := tx.QueryRow(ctx, `DELETE FROM custom_fields WHERE key = $1 RETURNING id, `+customFieldColumns, key).
			Scan(&id, &d.Key, &d.Label, &d.Type, &d.Options, &d.Required, &d.Unique, &d.CreatedAt, &d.UpdatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return db.NotFound("custom field %q not found", key)
		}
		if err != nil {
			return fmt.Errorf("contact: delete custom field %s: %w", key, err)
		}
		tag, err := tx.Exec(ctx, `
			WITH o AS (SELECT id, custom_fields -> $1 AS v FROM contacts WHERE custom_fields ? $1 ORDER BY id FOR UPDATE),
			u AS (UPDATE contacts c SET custom_fields = c.custom_fields - $1, version = c.version + 1, updated_at = now()
				FROM o WHERE c.id = o.id RETURNING c.id, o.v)
			INSERT INTO audit_log (actor, action, entity_type, entity_id, contact_id, changes)
			SELECT $2, 'update', 'contact', u.id, u.id,
				jsonb_build_object($3::text, jsonb_build_object('before', u.v, 'after', null))
			FROM u`, key, ActorFrom(ctx), CustomPrefix+key)
		if err != nil {
			return fmt.Errorf("contact: remove values of %s: %w", key, err)
		}
		n = tag.RowsAffected()
		a := NewAudit(ctx)
		ch := definitionChanges(&d, &CustomField{})
		ch["contactsWithValue"] = Change{Before: n, After: 0}
		a.Add("delete", "custom_field", id, nil, ch)
		return a.Flush(ctx, tx)
	})
	return n, err
}

// customValuesTx validates the custom input of a write against the definitions (read in tx
// under the shared lock), applies it to cur and claims the unique values that change. id is
// the contact written; creating says it is new. It returns the values to store.
func customValuesTx(ctx context.Context, tx pgx.Tx, id uuid.UUID, cur CustomValues, in CustomInput, creating bool) (CustomValues, error) {
	defs, err := DefinitionsTx(ctx, tx)
	if err != nil {
		return nil, err
	}
	next, errs := defs.apply(cur, in, creating)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	if err := claimCustomTx(ctx, tx, id, defs, cur, next); err != nil {
		return nil, err
	}
	return next, nil
}

// anyUnique says a definition is unique.
func (defs Definitions) anyUnique() bool {
	for _, d := range defs {
		if d.Unique {
			return true
		}
	}
	return false
}

// claimCustomTx checks, under each value's lock, that no other active contact has a value of a
// unique field that next sets anew, and fails with a conflict naming customFields.<key> and the
// contact that has it.
//
// The values are locked in the byte order of their lock keys, the order every claimer takes
// them in (ClaimCustomManyTx too), so that two claimers never wait for each other in a cycle.
func claimCustomTx(ctx context.Context, tx pgx.Tx, id uuid.UUID, defs Definitions, cur, next CustomValues) error {
	var keys []string
	for _, k := range slices.Sorted(maps.Keys(next)) {
		if d := defs[k]; d != nil && d.Unique && !customEqual(cur[k], next[k]) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b string) int { return strings.Compare(customLockKey(a, next[a]), customLockKey(b, next[b])) })
	for _, k := range keys {
		if err := claimCustomValue(ctx, tx, id, k, next[k]); err != nil {
			return err
		}
	}
	return nil
}

// customLockKey is the key of the advisory lock on a unique custom value.
func customLockKey(key string, v any) string {
	return key + ":" + strings.ToLower(contactfile.CustomText(v))
}

func claimCustomValue(ctx context.Context, tx pgx.Tx, id uuid.UUID, key string, v any) error {
	doc, err := json.Marshal(map[string]any{key: v})
	if err != nil {
		return fmt.Errorf("contact: encode %s: %w", key, err)
	}
	var other uuid.UUID
	found := false
	b := &pgx.Batch{}
	b.Queue(customValueLockSQL, customLockKey(key, v))
	// Its snapshot is taken after the lock is held: a writer of the value that held it before
	// has committed and is seen.
	b.Queue(`SELECT id FROM contacts WHERE custom_fields @> $1::jsonb AND status = 'active' AND id <> $2 ORDER BY id LIMIT 1`,
		string(doc), id).QueryRow(func(row pgx.Row) error {
		err := row.Scan(&other)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		found = err == nil
		return err
	})
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("contact: claim %s: %w", key, err)
	}
	if found {
		msg := fmt.Sprintf("an active contact already has this value of the unique field %s", key)
		return &db.Error{Kind: db.KindConflict, Message: msg, ExistingID: other.String(),
			Fields: []db.FieldError{{Field: CustomPrefix + key, Message: msg}}}
	}
	return nil
}

// Apply validates custom input against the definitions and returns cur with it applied, with
// every wrong value named customFields.<key>; creating says the contact is new (its required
// fields must have values). Bulk writers (imports, sync) validate with it, then claim unique
// values with ClaimCustomManyTx in their transaction, which holds the definitions' shared lock
// (DefinitionsTx).
func (defs Definitions) Apply(cur CustomValues, in CustomInput, creating bool) (CustomValues, db.FieldErrors) {
	return defs.apply(cur, in, creating)
}

// ClaimCustomTx checks, under each value's lock, that no active contact but id has a value of
// a unique field that next sets anew (relative to cur), failing with a conflict naming
// customFields.<key> and the contact that has it. The locks are held until tx ends. Sync
// claims record by record with it; imports claim a batch at once (ClaimCustomManyTx).
func ClaimCustomTx(ctx context.Context, tx pgx.Tx, id uuid.UUID, defs Definitions, cur, next CustomValues) error {
	return claimCustomTx(ctx, tx, id, defs, cur, next)
}

// CustomClaim is a contact's claim on a value of a unique custom field (ClaimCustomManyTx).
type CustomClaim struct {
	ID    uuid.UUID // the contact that takes the value (uuid.Nil for a new one)
	Key   string
	Value any
}

// ClaimCustomManyTx checks many claims on unique custom values at once, for bulk writers
// (imports): it takes every value's lock (in one statement, in lock order) and then finds, in
// one query, an active contact other than the claimant that has each value. It returns, by
// the claim's index, a conflict naming customFields.<key> and that contact. The locks are held
// until tx ends. The claims must not compete with each other (the caller resolves those).
func ClaimCustomManyTx(ctx context.Context, tx pgx.Tx, claims []CustomClaim) (map[int]error, error) {
	if len(claims) == 0 {
		return nil, nil
	}
	locks := make([]string, len(claims))
	docs := make([]string, len(claims))
	ids := make([]uuid.UUID, len(claims))
	for i, c := range claims {
		locks[i] = customLockKey(c.Key, c.Value)
		doc, err := json.Marshal(map[string]any{c.Key: c.Value})
		if err != nil {
			return nil, fmt.Errorf("contact: encode %s: %w", c.Key, err)
		}
		docs[i], ids[i] = string(doc), c.ID
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT count(pg_advisory_xact_lock(hashtextextended(k, 7004))) FROM (SELECT DISTINCT k COLLATE "C" AS k FROM unnest($1::text[]) k ORDER BY 1) l`, locks)
	// Its snapshot is taken after the locks are held, as claimCustomValue's.
	out := map[int]error{}
	b.Queue(`SELECT x.i - 1, o.id FROM unnest($1::text[], $2::uuid[]) WITH ORDINALITY AS x (doc, id, i)
		CROSS JOIN LATERAL (SELECT id FROM contacts WHERE custom_fields @> x.doc::jsonb AND status = 'active' AND id <> x.id
			ORDER BY id LIMIT 1) o`, docs, ids).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var i int
			var other uuid.UUID
			if err := rows.Scan(&i, &other); err != nil {
				return err
			}
			key := claims[i].Key
			msg := fmt.Sprintf("an active contact already has this value of the unique field %s", key)
			out[i] = &db.Error{Kind: db.KindConflict, Message: msg, ExistingID: other.String(),
				Fields: []db.FieldError{{Field: CustomPrefix + key, Message: msg}}}
		}
		return rows.Err()
	})
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("contact: claim custom values: %w", err)
	}
	return out, nil
}

// CustomClaimSet is one record's unique custom values in a batch (ClaimCustomBatchTx).
type CustomClaimSet struct {
	ID    uuid.UUID // the contact that takes them (uuid.Nil for a new one)
	Owner string    // the record in its source (an external id): sets of one owner never compete
	// Values are the record's validated custom values; only those of unique fields are claimed.
	Values CustomValues
}

// ClaimCustomBatchTx claims the unique custom values of a bulk writer's batch (an import's,
// a sync page's) at once: a value an earlier set of the batch with another owner takes is
// refused (compared exactly, as the database check is), and the others are claimed with
// ClaimCustomManyTx (every lock in one statement, in one order). It returns, by set index, the
// field errors of each refused set (naming customFields.<key>); a refused set claims nothing.
func ClaimCustomBatchTx(ctx context.Context, tx pgx.Tx, defs Definitions, sets []CustomClaimSet) (map[int]db.FieldErrors, error) {
	refused := map[int]db.FieldErrors{}
	taken := map[string]string{} // key and value → the owner that has it
	var claims []CustomClaim
	var owner []int // the set of each claim
	for i, set := range sets {
		var errs db.FieldErrors
		var mine []CustomClaim
		for _, k := range slices.Sorted(maps.Keys(set.Values)) {
			if d := defs[k]; d == nil || !d.Unique {
				continue
			}
			ck := k + "\x00" + contactfile.CustomText(set.Values[k])
			if other, ok := taken[ck]; ok && other != set.Owner {
				errs.Add(CustomPrefix+k, "another record of this batch has this value of the unique field %s", k)
			}
			taken[ck] = set.Owner
			mine = append(mine, CustomClaim{ID: set.ID, Key: k, Value: set.Values[k]})
		}
		if len(errs) > 0 {
			refused[i] = errs
			continue
		}
		for _, c := range mine {
			claims, owner = append(claims, c), append(owner, i)
		}
	}
	conflicts, err := ClaimCustomManyTx(ctx, tx, claims)
	if err != nil {
		return nil, err
	}
	for _, ci := range slices.Sorted(maps.Keys(conflicts)) {
		var de *db.Error
		if errors.As(conflicts[ci], &de) {
			refused[owner[ci]] = append(refused[owner[ci]], de.Fields...)
		}
	}
	return refused, nil
}

// Match returns the definition an import column names: by key, else by label, compared
// case-insensitively and ignoring spaces, dashes and underscores; nil when none.
func (defs Definitions) Match(column string) *CustomField {
	if d := defs[column]; d != nil {
		return d
	}
	fold := func(s string) string {
		return strings.Map(func(r rune) rune {
			switch r {
			case ' ', '-', '_', '.':
				return -1
			}
			return r
		}, strings.ToLower(strings.TrimSpace(s)))
	}
	c := fold(column)
	for _, k := range slices.Sorted(maps.Keys(defs)) {
		if d := defs[k]; fold(d.Key) == c || fold(d.Label) == c {
			return d
		}
	}
	return nil
}
