package contact

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// writeSQL writes every registry field, the preferences and the normalized forms of many
// contacts from arrays, in one statement.
var writeSQL = func() string {
	var set, cols, types []string
	types = append(types, "$1::uuid[]")
	cols = append(cols, "id")
	for i, f := range Fields {
		set = append(set, fmt.Sprintf("%s = u.f%d", f.Column, i))
		cols = append(cols, fmt.Sprintf("f%d", i))
		types = append(types, fmt.Sprintf("$%d::text[]", len(types)+1))
	}
	n := len(types)
	set = append(set, "preferences = u.prefs", "email_normalized = u.ne", "phone_e164 = u.np",
		"phone_extension = u.nx", "phone_valid = u.nv",
		fmt.Sprintf("normalized_at = CASE WHEN $%d THEN now() ELSE c.normalized_at END", n+6),
		"version = c.version + 1", "updated_at = now()", "custom_fields = coalesce(u.cf, '{}')", "contact_type = u.ct")
	cols = append(cols, "prefs", "ne", "np", "nx", "nv", "cf", "ct")
	types = append(types, fmt.Sprintf("$%d::jsonb[]", n+1), fmt.Sprintf("$%d::text[]", n+2), fmt.Sprintf("$%d::text[]", n+3),
		fmt.Sprintf("$%d::text[]", n+4), fmt.Sprintf("$%d::bool[]", n+5), fmt.Sprintf("$%d::jsonb[]", n+7), fmt.Sprintf("$%d::text[]", n+8))
	return `UPDATE contacts c SET ` + strings.Join(set, ", ") + `
		FROM unnest(` + strings.Join(types, ", ") + `) AS u(` + strings.Join(cols, ", ") + `)
		WHERE c.id = u.id RETURNING c.id, c.version, c.updated_at`
}()

// WriteTx writes the contacts as they are in cs (their fields, preferences and normalized
// forms, computed in Go by a merge, an undo or an import) in one statement, bumps their
// versions and sets their updated_at and version in cs. stampNormalized records that the
// normalized forms are fresh (normalized_at = now()). The caller holds the contacts' locks and
// audits the change.
func WriteTx(ctx context.Context, tx pgx.Tx, cs []*Contact, stampNormalized bool) error {
	if len(cs) == 0 {
		return nil
	}
	n := len(cs)
	ids := make([]uuid.UUID, n)
	fields := make([][]*string, len(Fields))
	for i := range fields {
		fields[i] = make([]*string, n)
	}
	prefs := make([]Preferences, n)
	ne, np, nx := make([]*string, n), make([]*string, n), make([]*string, n)
	nv := make([]*bool, n)
	cf, ct := make([]CustomValues, n), make([]*ContactType, n)
	byID := make(map[uuid.UUID]*Contact, n)
	for k, c := range cs {
		ids[k] = c.ID
		byID[c.ID] = c
		for i, f := range Fields {
			fields[i][k] = f.Get(&c.Values)
		}
		prefs[k], ne[k], np[k], nx[k], nv[k] = c.Preferences, c.Normalized.Email, c.Normalized.Phone, c.Normalized.PhoneExtension, c.Normalized.PhoneValid
		cf[k], ct[k] = c.Custom, c.ExplicitType
	}
	args := []any{ids}
	for _, col := range fields {
		args = append(args, col)
	}
	args = append(args, prefs, ne, np, nx, nv, stampNormalized, cf, ct)
	rows, err := tx.Query(ctx, writeSQL, args...)
	if err != nil {
		return fmt.Errorf("contact: write contacts: %w", err)
	}
	defer rows.Close()
	got := 0
	for rows.Next() {
		var id uuid.UUID
		var c Contact
		if err := rows.Scan(&id, &c.Version, &c.UpdatedAt); err != nil {
			return fmt.Errorf("contact: write contacts: %w", err)
		}
		byID[id].Version, byID[id].UpdatedAt = c.Version, c.UpdatedAt
		got++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("contact: write contacts: %w", err)
	}
	if got != n {
		return fmt.Errorf("contact: write contacts: %d of %d written", got, n)
	}
	return nil
}

// MarkMergedTx sets each of the merged contacts' status to merged, pointing at its survivor
// (survivors[i] for merged[i]).
func MarkMergedTx(ctx context.Context, tx pgx.Tx, merged, survivors []uuid.UUID) error {
	if _, err := tx.Exec(ctx, `UPDATE contacts c SET status = 'merged', merged_into = u.s, version = c.version + 1,
		updated_at = now() FROM unnest($1::uuid[], $2::uuid[]) AS u(id, s) WHERE c.id = u.id`, merged, survivors); err != nil {
		return fmt.Errorf("contact: mark merged: %w", err)
	}
	return nil
}

// restoreSQL gives contacts back every stored column from snapshot rows.
var restoreSQL = func() string {
	cols := []string{"status", "preferences", "email_normalized", "phone_e164", "phone_extension", "phone_valid",
		"normalized_at", "extra", "merged_into"}
	for _, f := range Fields {
		cols = append(cols, f.Column)
	}
	set := make([]string, len(cols))
	for i, c := range cols {
		set[i] = c + " = r." + c
	}
	// Snapshots older than custom fields and contact types have neither: the contact keeps its own.
	set = append(set, "custom_fields = coalesce(r.custom_fields, c.custom_fields)",
		"contact_type = CASE WHEN r.custom_fields IS NULL THEN c.contact_type ELSE r.contact_type END")
	return `UPDATE contacts c SET ` + strings.Join(set, ", ") + `, version = c.version + 1, updated_at = now()
		FROM jsonb_populate_recordset(null::contacts, $1) r WHERE c.id = r.id AND c.id = ANY($2)`
}()

// RestoreTx gives the contacts ids back every value they had in rows (to_jsonb rows of contacts
// from a merge's snapshot): an undo brings merged contacts back whole. The caller then claims
// their unique custom values with ClaimRestoredTx, once the survivor has its own values back.
func RestoreTx(ctx context.Context, tx pgx.Tx, rows []byte, ids []uuid.UUID) error {
	if _, err := tx.Exec(ctx, restoreSQL, rows, ids); err != nil {
		return fmt.Errorf("contact: restore contacts: %w", err)
	}
	return nil
}

// ClaimRestoredTx makes the restored contacts ids claim their values of unique custom fields
// again, as a write does: when another active contact holds one (the survivor gave it up after
// the merge and another contact took it), it fails with a conflict naming customFields.<key>
// and that contact. An undo calls it after restoring the survivor, which gives back the values
// the merge handed it.
func ClaimRestoredTx(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) error {
	defs, err := DefinitionsTx(ctx, tx)
	if err != nil {
		return err
	}
	if !defs.anyUnique() {
		return nil
	}
	restored, err := ReadTx(ctx, tx, ids)
	if err != nil {
		return err
	}
	slices.SortFunc(restored, func(a, b *Contact) int { return db.CompareUUID(a.ID, b.ID) })
	for _, c := range restored {
		if c.Status != StatusActive {
			continue
		}
		if err := claimCustomTx(ctx, tx, c.ID, defs, nil, c.Custom); err != nil {
			var e *db.Error
			if errors.As(err, &e) {
				e.Message = "contact " + c.ID.String() + " cannot get its value back: " + e.Message
			}
			return err
		}
	}
	return nil
}

// SnapshotRowsTx reads contacts from to_jsonb rows of contacts (a merge's snapshot), by id.
func SnapshotRowsTx(ctx context.Context, tx pgx.Tx, rows []byte) (map[uuid.UUID]*Contact, error) {
	r, err := tx.Query(ctx, `SELECT `+contactColumns+` FROM jsonb_populate_recordset(null::contacts, $1) c`, rows)
	if err != nil {
		return nil, fmt.Errorf("contact: read snapshot: %w", err)
	}
	got, err := pgx.CollectRows(r, scanContactRow)
	if err != nil {
		return nil, fmt.Errorf("contact: read snapshot: %w", err)
	}
	return byID(got), nil
}

// MoveAuditBackTx gives contacts back the audit entries a merge moved to the survivor
// (moved: {contactId: [entry ids]}). Merges no longer move history, but ones made before that
// did, and their undo moves it back.
func MoveAuditBackTx(ctx context.Context, tx pgx.Tx, moved []byte, survivorID uuid.UUID) error {
	if len(moved) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `UPDATE audit_log a SET contact_id = x.cid
		FROM (SELECT e.key::uuid AS cid, v::bigint AS id FROM jsonb_each($1::jsonb) e, jsonb_array_elements_text(e.value) v) x
		WHERE a.id = x.id AND a.contact_id = $2`, moved, survivorID)
	if err != nil {
		return fmt.Errorf("contact: move audit entries back: %w", err)
	}
	return nil
}

// copyColumns are the columns CopyTx writes.
var copyColumns = func() []string {
	cols := []string{"id"}
	for _, f := range Fields {
		cols = append(cols, f.Column)
	}
	return append(cols, "email_normalized", "phone_e164", "phone_extension", "phone_valid", "normalized_at", "extra",
		"created_at", "updated_at", "custom_fields", "contact_type")
}()

// CopyTx inserts n new active contacts with COPY, for bulk writers (imports): row fills the
// i-th contact's ID, Values, Custom (validated and claimed already: see ImportCustomTx),
// ExplicitType and Normalized forms (computed already: they are stamped fresh) and returns its
// extra data (nil for none). The caller audits them (CopyAuditTx) and enqueues their
// checks.
func CopyTx(ctx context.Context, tx pgx.Tx, n int, row func(i int, c *Contact) (extra map[string]any)) error {
	now := time.Now()
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"contacts"}, copyColumns,
		pgx.CopyFromSlice(n, func(i int) ([]any, error) {
			var c Contact
			extra := row(i, &c)
			vals := make([]any, 0, len(copyColumns))
			vals = append(vals, c.ID)
			for _, f := range Fields {
				vals = append(vals, f.Get(&c.Values))
			}
			var x any
			if extra != nil {
				x = extra
			}
			custom := c.Custom
			if custom == nil {
				custom = CustomValues{}
			}
			return append(vals, c.Normalized.Email, c.Normalized.Phone, c.Normalized.PhoneExtension, c.Normalized.PhoneValid,
				now, x, now, now, custom, c.ExplicitType), nil
		}))
	if err != nil {
		return fmt.Errorf("contact: copy contacts: %w", err)
	}
	return nil
}

// CopyAuditTx writes n audit entries of one action by actor about contacts with COPY: entry
// returns the i-th entry's contact and its changes as a JSON object (appended to buf, which it
// may reuse).
func CopyAuditTx(ctx context.Context, tx pgx.Tx, actor, action string, n int, entry func(i int, buf []byte) (uuid.UUID, []byte)) error {
	now := time.Now()
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"audit_log"},
		[]string{"at", "actor", "action", "entity_type", "entity_id", "contact_id", "changes"},
		pgx.CopyFromSlice(n, func(i int) ([]any, error) {
			id, changes := entry(i, nil)
			return []any{now, actor, action, "contact", id, id, json.RawMessage(changes)}, nil
		}))
	if err != nil {
		return fmt.Errorf("contact: copy audit entries: %w", err)
	}
	return nil
}
