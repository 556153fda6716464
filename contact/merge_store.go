package contact

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/contactd/contactd/matcher"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// MergeContacts merges the request's contacts into one survivor in one transaction: the
// survivor takes the chosen field values and every email and phone of the others as alternates;
// relationships (collapsed per account and user, one primary per account) and external
// references move to it; the others get status merged and point at it. Audit history stays
// where it was written, and the survivor's trail (AuditTrail) takes in the history of every
// contact merged into it, so an undo has no history to move back. Every contact
// involved is locked in id order first, so concurrent merges over the same contacts serialize.
// A full snapshot of the contacts as they were is stored with the merge, for UndoMerge. It
// returns the merge and the survivor as it now is.
func (s *Store) MergeContacts(ctx context.Context, req MergeRequest) (*Merge, *Contact, error) {
	m, err := s.Merge(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	survivor, err := s.GetContact(ctx, m.SurvivorID)
	if err != nil {
		return nil, nil, err
	}
	return m, survivor, nil
}

// Merge makes the merge MergeContacts makes and returns it without reading the survivor back:
// for the duplicate checks, which merge on the way to the next contact.
func (s *Store) Merge(ctx context.Context, req MergeRequest) (*Merge, error) {
	ids, err := req.validate()
	if err != nil {
		return nil, err
	}
	var m *Merge
	err = s.retryTx(ctx, func(tx pgx.Tx) error {
		var err error
		m, err = s.mergeTx(ctx, tx, req, ids)
		return err
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// retryTx runs fn in a transaction, again (a few times) when PostgreSQL aborts it for a
// serialization failure or a deadlock, so that callers never see those.
func (s *Store) retryTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.inTx(ctx, fn)
		if code := pgCode(err); attempt < 5 && (code == "40001" || code == "40P01") {
			select {
			case <-ctx.Done():
				return err
			case <-time.After(time.Duration(attempt*attempt) * 10 * time.Millisecond):
			}
			continue
		}
		return err
	}
}

// relChanges records what a merge did to relationships, so that UndoMerge can reverse it.
type relChanges struct {
	AccountsMoved []movedRel           `json:"accountsMoved"`
	AccountsEnded []movedRel           `json:"accountsEnded"`
	UsersMoved    []movedRel           `json:"usersMoved"`
	UsersEnded    []movedRel           `json:"usersEnded"`
	PrimarySet    []uuid.UUID          `json:"primarySet"`
	RoleSet       []roleSet            `json:"roleSet"`
	Primaries     []primaryWas         `json:"primaries"`
	Contacts      []uuid.UUID          `json:"contacts"`
	Survivor      uuid.UUID            `json:"survivor"`
	Merged        []uuid.UUID          `json:"merged"`
	FieldWinners  map[string]uuid.UUID `json:"fieldWinners,omitempty"`
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

// lockContacts locks the contacts in id order and returns them by id (missing ones absent).
func lockContacts(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) (map[uuid.UUID]*Contact, error) {
	rows, err := tx.Query(ctx, `SELECT `+contactColumns+` FROM contacts c WHERE c.id = ANY($1) ORDER BY c.id FOR UPDATE`, ids)
	if err != nil {
		return nil, fmt.Errorf("contact: lock contacts: %w", err)
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Contact, error) { return scanContact(r) })
	if err != nil {
		return nil, fmt.Errorf("contact: lock contacts: %w", err)
	}
	out := make(map[uuid.UUID]*Contact, len(got))
	for _, c := range got {
		out[c.ID] = c
	}
	return out, nil
}

// lockAccountsOf locks, in id order, the accounts the contacts are currently related to, and
// extra ones, so that no primary flag of theirs changes under a merge or an undo.
func lockAccountsOf(ctx context.Context, tx pgx.Tx, contactIDs, extra []uuid.UUID) error {
	_, err := tx.Exec(ctx, `SELECT 1 FROM accounts WHERE id IN (
			SELECT account_id FROM contact_accounts WHERE contact_id = ANY($1) AND removed_at IS NULL
			UNION SELECT unnest($2::uuid[]))
		ORDER BY id FOR NO KEY UPDATE`, contactIDs, extra)
	if err != nil {
		return fmt.Errorf("contact: lock accounts: %w", err)
	}
	return nil
}

// checkMergeable names every contact of the request that is missing, merged or archived.
func checkMergeable(req MergeRequest, contacts map[uuid.UUID]*Contact) error {
	var errs fieldErrors
	check := func(field string, id uuid.UUID) {
		c := contacts[id]
		switch {
		case c == nil:
			errs.add(field, "no contact has this id")
		case c.Status == StatusMerged:
			errs.add(field, "contact %s has already been merged into another contact", id)
		case c.Status != StatusActive:
			errs.add(field, "contact %s is %s; only active contacts can be merged", id, c.Status)
		}
	}
	for i, id := range req.ContactIDs {
		check(fmt.Sprintf("contactIds[%d]", i), id)
	}
	if req.SurvivorID != nil {
		check("survivorId", *req.SurvivorID)
	}
	return errs.err()
}

// mergeParts picks the survivor of a checked merge (the named one, else the oldest) and returns
// it with every contact of the merge and the merged ones, each sorted by id.
func mergeParts(req MergeRequest, ids []uuid.UUID, contacts map[uuid.UUID]*Contact) (survivor *Contact, all, merged []uuid.UUID) {
	if req.SurvivorID != nil {
		survivor = contacts[*req.SurvivorID]
	} else {
		for _, c := range contacts {
			if survivor == nil || c.CreatedAt.Before(survivor.CreatedAt) ||
				(c.CreatedAt.Equal(survivor.CreatedAt) && c.ID.String() < survivor.ID.String()) {
				survivor = c
			}
		}
	}
	all = make([]uuid.UUID, 0, len(contacts))
	merged = make([]uuid.UUID, 0, len(contacts)-1)
	for _, id := range ids {
		all = append(all, id)
		if id != survivor.ID {
			merged = append(merged, id)
		}
	}
	slices.SortFunc(all, compareUUID)
	slices.SortFunc(merged, compareUUID)
	return survivor, all, merged
}

func (s *Store) mergeTx(ctx context.Context, tx pgx.Tx, req MergeRequest, ids []uuid.UUID) (*Merge, error) {
	contacts, err := lockContacts(ctx, tx, ids)
	if err != nil {
		return nil, err
	}
	if err := checkMergeable(req, contacts); err != nil {
		return nil, err
	}
	survivor, all, merged := mergeParts(req, ids, contacts)
	if err := lockAccountsOf(ctx, tx, all, nil); err != nil {
		return nil, err
	}

	m := &Merge{
		ID: uuid.Must(uuid.NewV7()), SurvivorID: survivor.ID, MergedIDs: merged, Actor: ActorFrom(ctx),
		ModelVersion: req.ModelVersion, Score: req.Score, UndoReport: []string{},
	}
	fieldValues := req.FieldValues
	if fieldValues == nil {
		fieldValues = map[string]uuid.UUID{}
	}
	err = tx.QueryRow(ctx, `
		INSERT INTO merges (id, survivor_id, merged_ids, actor, model_version, score, field_values, snapshot)
		SELECT $1, $2, $3, $4, $5, $6, $7, jsonb_build_object(
			'contacts', (SELECT jsonb_agg(to_jsonb(c) ORDER BY c.id) FROM contacts c WHERE c.id = ANY($8)),
			'contactUsers', (SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.id), '[]') FROM contact_users r WHERE r.contact_id = ANY($8)),
			'contactAccounts', (SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.id), '[]') FROM contact_accounts r WHERE r.contact_id = ANY($8)),
			'externalRefs', (SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.source, r.external_id), '[]') FROM external_refs r WHERE r.contact_id = ANY($8)),
			'alternates', (SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.contact_id, r.kind, r.value), '[]') FROM contact_alternates r WHERE r.contact_id = ANY($8)),
			'keys', (SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.contact_id, r.key), '[]') FROM contact_keys r WHERE r.contact_id = ANY($8)),
			'reviews', (SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.id), '[]') FROM duplicate_reviews r
				WHERE r.status = 'open' AND (r.contact_a = ANY($9) OR r.contact_b = ANY($9))))
		RETURNING created_at`,
		m.ID, m.SurvivorID, m.MergedIDs, m.Actor, m.ModelVersion, m.Score, fieldValues, all, merged,
	).Scan(&m.CreatedAt)
	if pgCode(err) == codeFKViolation {
		return nil, fieldErrors{{Field: "modelVersion", Message: "no matcher model has this version"}}.err()
	}
	if err != nil {
		return nil, fmt.Errorf("contact: store merge: %w", err)
	}

	after := survivorValues(survivor, contacts, req.FieldValues)
	changes := after.fieldChanges(survivor)
	err = tx.QueryRow(ctx, `
		UPDATE contacts SET first_name = $2, last_name = $3, email = $4, phone = $5, title = $6,
			company = $7, preferences = $8, email_normalized = $9, phone_e164 = $10,
			phone_extension = $11, phone_valid = $12, version = version + 1, updated_at = now()
		WHERE id = $1 RETURNING version, updated_at`,
		after.ID, after.FirstName, after.LastName, after.Email, after.Phone, after.Title, after.Company,
		after.Preferences, after.Normalized.Email, after.Normalized.Phone, after.Normalized.PhoneExtension,
		after.Normalized.PhoneValid,
	).Scan(&after.Version, &after.UpdatedAt)
	if err != nil {
		return nil, fmt.Errorf("contact: update survivor %s: %w", survivor.ID, err)
	}
	// The survivor's alternates and blocking keys after the merge, computed here from what is
	// read once, and written with the rest in one round trip.
	stored, err := readAlternates(ctx, tx, all)
	if err != nil {
		return nil, err
	}
	var own, fromMerged []storedAlternate
	for _, a := range stored {
		if a.ContactID == survivor.ID {
			own = append(own, a)
		} else {
			fromMerged = append(fromMerged, a)
		}
	}
	var alts alternateRows
	alts.add(m.ID, after, contacts, fromMerged)
	rc, err := moveRelationships(ctx, tx, survivor.ID, all)
	if err != nil {
		return nil, err
	}
	rc.Contacts, rc.Survivor, rc.Merged = all, survivor.ID, merged
	b := &pgx.Batch{}
	b.Queue(`UPDATE contacts SET status = 'merged', merged_into = $1, version = version + 1,
		updated_at = now() WHERE id = ANY($2)`, survivor.ID, merged)
	alts.queue(b, merged)
	b.Queue(`UPDATE external_refs SET contact_id = $1 WHERE contact_id = ANY($2)`, survivor.ID, merged)
	b.Queue(`DELETE FROM contact_keys WHERE contact_id = ANY($1)`, all)
	if keys := BlockingKeys(after, alts.withOwn(own)); len(keys) > 0 {
		b.Queue(`INSERT INTO contact_keys (key, contact_id) SELECT k, $1 FROM unnest($2::text[]) AS k ON CONFLICT DO NOTHING`, survivor.ID, keys)
	}
	b.Queue(`UPDATE duplicate_reviews SET status = 'merged', merge_id = $1, decided_at = now(), decided_by = $2
		WHERE status = 'open' AND contact_a = ANY($3) AND contact_b = ANY($3)`, m.ID, m.Actor, all)
	b.Queue(`UPDATE duplicate_reviews SET status = 'obsolete', decided_at = now(), decided_by = $1
		WHERE status = 'open' AND (contact_a = ANY($2) OR contact_b = ANY($2))`, m.Actor, merged)
	b.Queue(`UPDATE merges SET snapshot = snapshot || jsonb_build_object(
			'after', (SELECT to_jsonb(c) FROM contacts c WHERE c.id = $2),
			'changes', $3::jsonb)
		WHERE id = $1`, m.ID, survivor.ID, rc)
	a := newAudit(ctx)
	a.addMerge(m, changes)
	a.queue(b)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("contact: merge: %w", err)
	}
	// The survivor took a phone its contact had not normalized yet (a merge right after a
	// create): the normalize job gives it its forms (and a check).
	if needsNormalize(after) {
		if _, err := s.jobs.InsertTx(ctx, tx, NormalizeArgs{ContactID: survivor.ID}, nil); err != nil {
			return nil, fmt.Errorf("contact: enqueue normalize: %w", err)
		}
	}
	// A duplicate check of the merged person, who may match contacts none of the parts matched
	// alone.
	if _, err := s.jobs.InsertTx(ctx, tx, DedupeArgs{ContactID: survivor.ID}, nil); err != nil {
		return nil, fmt.Errorf("contact: enqueue duplicate check: %w", err)
	}
	return m, nil
}

// addMerge records a merge: the survivor's changes (changes, which it extends) and each merged
// contact's new status.
func (a *audit) addMerge(m *Merge, changes map[string]Change) {
	changes["mergeId"] = Change{After: m.ID.String()}
	changes["mergedIds"] = Change{After: m.MergedIDs}
	a.add("merge", "contact", m.SurvivorID, &m.SurvivorID, changes)
	for _, id := range m.MergedIDs {
		id := id
		a.add("merge", "contact", id, &id, map[string]Change{
			"mergeId":    {After: m.ID.String()},
			"status":     {Before: string(StatusActive), After: string(StatusMerged)},
			"mergedInto": {Before: nil, After: m.SurvivorID.String()},
		})
	}
}

func compareUUID(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) }

// storedAlternate is a row of contact_alternates as a merge reads it.
type storedAlternate struct {
	ContactID  uuid.UUID
	Kind       string
	Value      string
	Normalized *string
	From       *uuid.UUID
}

// readAlternates reads the alternates of the contacts, ordered by contact, kind and value.
func readAlternates(ctx context.Context, tx pgx.Tx, contactIDs []uuid.UUID) ([]storedAlternate, error) {
	rows, err := tx.Query(ctx, `SELECT contact_id, kind, value, normalized, from_contact_id FROM contact_alternates
		WHERE contact_id = ANY($1) ORDER BY contact_id, kind, value`, contactIDs)
	if err != nil {
		return nil, fmt.Errorf("contact: read alternates: %w", err)
	}
	alts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[storedAlternate])
	if err != nil {
		return nil, fmt.Errorf("contact: read alternates: %w", err)
	}
	return alts, nil
}

// queue queues the writes that move the alternates: the merged contacts' go, the rows are
// attached to their survivors.
func (r *alternateRows) queue(b *pgx.Batch, merged []uuid.UUID) {
	b.Queue(`DELETE FROM contact_alternates WHERE contact_id = ANY($1)`, merged)
	if len(r.values) > 0 {
		b.Queue(`INSERT INTO contact_alternates (contact_id, kind, value, normalized, from_contact_id, merge_id)
			SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::uuid[], $6::uuid[])
			ON CONFLICT DO NOTHING`, r.contactIDs, r.kinds, r.values, r.normalized, r.from, r.mergeIDs)
	}
}

// withOwn returns the alternates one survivor carries after its merge: its own (own) and the
// rows attached to it.
func (r *alternateRows) withOwn(own []storedAlternate) []Alternate {
	out := make([]Alternate, 0, len(own)+len(r.values))
	for _, a := range own {
		out = append(out, Alternate{Kind: a.Kind, Value: a.Value, Normalized: a.Normalized})
	}
	for i := range r.values {
		out = append(out, Alternate{Kind: r.kinds[i], Value: r.values[i], Normalized: r.normalized[i]})
	}
	return out
}

// alternateRows are the alternates merges attach to their survivors, as columns.
type alternateRows struct {
	contactIDs, mergeIDs, from []uuid.UUID
	kinds, values              []string
	normalized                 []*string
}

// add appends the alternates one merge attaches to its survivor: every email and phone of the
// merge's contacts the survivor does not carry itself, then the merged contacts' own alternates
// (alts, ordered by contact, kind and value), each value once.
func (r *alternateRows) add(mergeID uuid.UUID, survivor *Contact, contacts map[uuid.UUID]*Contact, alts []storedAlternate) {
	seen := map[string]bool{}
	add := func(kind, value string, norm *string, fromID uuid.UUID) {
		own := survivor.Email
		if kind == "phone" {
			own = survivor.Phone
		}
		if value == "" || (own != nil && *own == value) || seen[kind+"\x00"+value] {
			return
		}
		seen[kind+"\x00"+value] = true
		r.contactIDs, r.mergeIDs = append(r.contactIDs, survivor.ID), append(r.mergeIDs, mergeID)
		r.kinds, r.values, r.normalized, r.from = append(r.kinds, kind), append(r.values, value), append(r.normalized, norm), append(r.from, fromID)
	}
	ids := make([]uuid.UUID, 0, len(contacts))
	for id := range contacts {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, compareUUID)
	for _, id := range ids {
		c := contacts[id]
		if c.Email != nil {
			n := c.Normalized.Email
			if n == nil {
				n = emailKey(c.Email)
			}
			add("email", *c.Email, n, c.ID)
		}
		if c.Phone != nil {
			n := c.Normalized.Phone
			if n == nil {
				n = nullable(matcher.NormalizePhone(*c.Phone, "").E164)
			}
			add("phone", *c.Phone, n, c.ID)
		}
	}
	for _, a := range alts {
		f := a.ContactID
		if a.From != nil {
			f = *a.From
		}
		add(a.Kind, a.Value, a.Normalized, f)
	}
}

// moveRelationships moves the current relationships of the merged contacts to the survivor.
// Relationships to the same account (or to the same user with the same type) collapse into one:
// the survivor's when it has one, else the oldest; the others end. The kept relationship is the
// account's primary when any of them was, and takes a role from them when it has none. The
// caller holds the locks of the contacts and of their accounts.
func moveRelationships(ctx context.Context, tx pgx.Tx, survivorID uuid.UUID, all []uuid.UUID) (*relChanges, error) {
	rc := &relChanges{PrimarySet: []uuid.UUID{}, RoleSet: []roleSet{}, Primaries: []primaryWas{}}
	type accRow struct {
		ID, ContactID, AccountID uuid.UUID
		Role                     *string
		IsPrimary                bool
	}
	rows, err := tx.Query(ctx, `SELECT id, contact_id, account_id, role, is_primary FROM contact_accounts
		WHERE contact_id = ANY($1) AND removed_at IS NULL ORDER BY account_id, created_at, id`, all)
	if err != nil {
		return nil, fmt.Errorf("contact: read relationships: %w", err)
	}
	accs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[accRow])
	if err != nil {
		return nil, fmt.Errorf("contact: read relationships: %w", err)
	}
	var roleIDs []uuid.UUID
	var roles []string
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
			if i == keep {
				continue
			}
			rc.AccountsEnded = append(rc.AccountsEnded, movedRel{r.ID, r.ContactID, r.AccountID})
		}
		if k.ContactID != survivorID {
			rc.AccountsMoved = append(rc.AccountsMoved, movedRel{k.ID, k.ContactID, k.AccountID})
		}
		if primary && !k.IsPrimary {
			rc.PrimarySet = append(rc.PrimarySet, k.ID)
		}
		if (k.Role == nil || *k.Role == "") && role != nil {
			rc.RoleSet = append(rc.RoleSet, roleSet{k.ID, k.Role, *role})
			roleIDs, roles = append(roleIDs, k.ID), append(roles, *role)
		}
	}
	type userRow struct {
		ID, ContactID, UserID uuid.UUID
		Type                  string
	}
	rows, err = tx.Query(ctx, `SELECT id, contact_id, user_id, lower(relationship_type) FROM contact_users
		WHERE contact_id = ANY($1) AND removed_at IS NULL ORDER BY user_id, lower(relationship_type), created_at, id`, all)
	if err != nil {
		return nil, fmt.Errorf("contact: read relationships: %w", err)
	}
	users, err := pgx.CollectRows(rows, pgx.RowToStructByPos[userRow])
	if err != nil {
		return nil, fmt.Errorf("contact: read relationships: %w", err)
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
	relIDs := func(rs []movedRel) []uuid.UUID {
		out := make([]uuid.UUID, len(rs))
		for i, r := range rs {
			out[i] = r.ID
		}
		return out
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
		return nil, fmt.Errorf("contact: move relationships: %w", err)
	}
	return rc, nil
}

// survivorOf follows a merged contact's chain of merges to the contact at its end.
func (s *Store) survivorOf(ctx context.Context, id uuid.UUID) (uuid.UUID, error) {
	var end uuid.UUID
	err := s.pool.QueryRow(ctx, `
		WITH RECURSIVE chain (id, merged_into, depth) AS (
			SELECT id, merged_into, 0 FROM contacts WHERE id = $1
			UNION ALL
			SELECT c.id, c.merged_into, chain.depth + 1 FROM contacts c JOIN chain ON c.id = chain.merged_into
			WHERE chain.depth < 1000)
		SELECT id FROM chain ORDER BY depth DESC LIMIT 1`, id).Scan(&end)
	if err != nil {
		return uuid.Nil, fmt.Errorf("contact: survivor of %s: %w", id, err)
	}
	return end, nil
}

const mergeColumns = `id, survivor_id, merged_ids, actor, model_version, score, created_at, undone_at, undone_by,
	coalesce(undo_report, '[]'::jsonb)`

func scanMerge(row pgx.Row) (*Merge, error) {
	var m Merge
	err := row.Scan(&m.ID, &m.SurvivorID, &m.MergedIDs, &m.Actor, &m.ModelVersion, &m.Score, &m.CreatedAt,
		&m.UndoneAt, &m.UndoneBy, &m.UndoReport)
	if err != nil {
		return nil, err
	}
	if m.UndoReport == nil {
		m.UndoReport = []string{}
	}
	return &m, nil
}

// GetMerge returns a merge.
func (s *Store) GetMerge(ctx context.Context, id uuid.UUID) (*Merge, error) {
	m, err := scanMerge(s.pool.QueryRow(ctx, `SELECT `+mergeColumns+` FROM merges WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("merge %s not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("contact: get merge %s: %w", id, err)
	}
	return m, nil
}

// ListMerges returns a page of merges, newest first, after the merge before (the cursor: the
// last id of the previous page), and the cursor of the next page, nil on the last page.
func (s *Store) ListMerges(ctx context.Context, before *uuid.UUID, limit int) ([]*Merge, *uuid.UUID, error) {
	if limit <= 0 || limit > MaxListLimit {
		return nil, nil, fieldErrors{{Field: "limit", Message: fmt.Sprintf("must be between 1 and %d", MaxListLimit)}}.err()
	}
	rows, err := s.pool.Query(ctx, `SELECT `+mergeColumns+` FROM merges
		WHERE $1::uuid IS NULL OR id < $1 ORDER BY id DESC LIMIT $2`, before, limit+1)
	if err != nil {
		return nil, nil, fmt.Errorf("contact: list merges: %w", err)
	}
	merges, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Merge, error) { return scanMerge(r) })
	if err != nil {
		return nil, nil, fmt.Errorf("contact: list merges: %w", err)
	}
	var next *uuid.UUID
	if len(merges) > limit {
		merges = merges[:limit]
		id := merges[len(merges)-1].ID
		next = &id
	}
	return merges, next, nil
}

// UndoMerge reverses a merge: the merged contacts come back as they were (fields, status,
// relationships, external references, alternates; their audit history is theirs again once
// they no longer point at the survivor) and the survivor gets back
// the values it had, except those changed since the merge, which stay. It returns the undone
// merge and a line for each value it could not restore. It fails with KindConflict when the
// merge is undone already, or when a later merge still holds its contacts (undo that one first).
func (s *Store) UndoMerge(ctx context.Context, id uuid.UUID) (*Merge, []string, error) {
	// The contacts of a merge never change: read them unlocked, lock them in id order (as merges
	// do), then lock and check the merge itself.
	var survivorID uuid.UUID
	var mergedIDs []uuid.UUID
	err := s.pool.QueryRow(ctx, `SELECT survivor_id, merged_ids FROM merges WHERE id = $1`, id).Scan(&survivorID, &mergedIDs)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, notFound("merge %s not found", id)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("contact: get merge %s: %w", id, err)
	}
	var report []string
	err = s.retryTx(ctx, func(tx pgx.Tx) error {
		var err error
		report, err = s.undoTx(ctx, tx, id, survivorID, mergedIDs)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	m, err := s.GetMerge(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	return m, report, nil
}

// mergeSnapshot is the part of a merge's snapshot that undo reads in Go.
type mergeSnapshot struct {
	Contacts json.RawMessage `json:"contacts"`
	After    json.RawMessage `json:"after"`
	Changes  relChanges      `json:"changes"`
	Refs     []struct {
		Source     string    `json:"source"`
		ExternalID string    `json:"external_id"`
		ContactID  uuid.UUID `json:"contact_id"`
	} `json:"externalRefs"`
	Alternates json.RawMessage `json:"alternates"`
	Keys       json.RawMessage `json:"keys"`
	// AuditIDs are the audit entries the merge moved to the survivor, by the contact they came
	// from. Merges no longer move history (AuditTrail follows merges), but ones made before
	// that did, and their undo moves it back.
	AuditIDs json.RawMessage `json:"auditIds"`
	Reviews  json.RawMessage `json:"reviews"`
}

func (s *Store) undoTx(ctx context.Context, tx pgx.Tx, id, survivorID uuid.UUID, mergedIDs []uuid.UUID) ([]string, error) {
	all := slices.SortedFunc(slices.Values(append([]uuid.UUID{survivorID}, mergedIDs...)), compareUUID)
	current, err := lockContacts(ctx, tx, all)
	if err != nil {
		return nil, err
	}
	var undoneAt *time.Time
	var snap mergeSnapshot
	var score *float64
	err = tx.QueryRow(ctx, `SELECT undone_at, snapshot, score FROM merges WHERE id = $1 FOR NO KEY UPDATE`, id).Scan(&undoneAt, &snap, &score)
	if err != nil {
		return nil, fmt.Errorf("contact: lock merge %s: %w", id, err)
	}
	if undoneAt != nil {
		return nil, &Error{Kind: KindConflict, Message: fmt.Sprintf("merge %s has already been undone", id)}
	}
	if err := s.checkUndoable(ctx, tx, id, survivorID, mergedIDs, current); err != nil {
		return nil, err
	}
	extra := make([]uuid.UUID, 0, len(snap.Changes.Primaries))
	for _, p := range snap.Changes.Primaries {
		extra = append(extra, p.AccountID)
	}
	if err := lockAccountsOf(ctx, tx, all, extra); err != nil {
		return nil, err
	}
	before, err := snapshotContacts(ctx, tx, snap.Contacts)
	if err != nil {
		return nil, err
	}
	afterList, err := snapshotContacts(ctx, tx, []byte("["+string(snap.After)+"]"))
	if err != nil {
		return nil, err
	}
	if before[survivorID] == nil || afterList[survivorID] == nil {
		return nil, fmt.Errorf("contact: merge %s: the snapshot lacks the survivor", id)
	}
	report := []string{}
	a := newAudit(ctx)

	// The merged contacts come back whole: nothing can change a merged contact.
	if _, err := tx.Exec(ctx, `
		UPDATE contacts c SET first_name = r.first_name, last_name = r.last_name, email = r.email,
			phone = r.phone, title = r.title, company = r.company, status = r.status,
			preferences = r.preferences, email_normalized = r.email_normalized, phone_e164 = r.phone_e164,
			phone_extension = r.phone_extension, phone_valid = r.phone_valid, normalized_at = r.normalized_at,
			extra = r.extra, merged_into = r.merged_into, version = c.version + 1, updated_at = now()
		FROM jsonb_populate_recordset(null::contacts, $1) r WHERE c.id = r.id AND c.id = ANY($2)`,
		snap.Contacts, mergedIDs); err != nil {
		return nil, fmt.Errorf("contact: restore merged contacts: %w", err)
	}
	for _, mid := range mergedIDs {
		mid := mid
		a.add("unmerge", "contact", mid, &mid, map[string]Change{
			"mergeId":    {After: id.String()},
			"status":     {Before: string(StatusMerged), After: string(before[mid].Status)},
			"mergedInto": {Before: survivorID.String(), After: nil},
		})
	}
	changes, lines, err := restoreSurvivor(ctx, tx, current[survivorID], before[survivorID], afterList[survivorID])
	if err != nil {
		return nil, err
	}
	report = append(report, lines...)
	changes["mergeId"] = Change{After: id.String()}
	changes["restoredIds"] = Change{After: mergedIDs}
	a.add("unmerge", "contact", survivorID, &survivorID, changes)

	lines, err = restoreRelationships(ctx, tx, survivorID, &snap.Changes)
	if err != nil {
		return nil, err
	}
	report = append(report, lines...)
	for _, r := range snap.Refs {
		if r.ContactID == survivorID {
			continue
		}
		tag, err := tx.Exec(ctx, `UPDATE external_refs SET contact_id = $3 WHERE source = $1 AND external_id = $2 AND contact_id = $4`,
			r.Source, r.ExternalID, r.ContactID, survivorID)
		if err != nil {
			return nil, fmt.Errorf("contact: restore external reference: %w", err)
		}
		if tag.RowsAffected() == 0 {
			report = append(report, fmt.Sprintf("contacts[%s].externalIds: %s:%s no longer belongs to the survivor; not restored", r.ContactID, r.Source, r.ExternalID))
		}
	}
	b := &pgx.Batch{}
	if len(snap.AuditIDs) > 0 {
		b.Queue(`UPDATE audit_log a SET contact_id = x.cid
			FROM (SELECT e.key::uuid AS cid, v::bigint AS id FROM jsonb_each($1::jsonb) e, jsonb_array_elements_text(e.value) v) x
			WHERE a.id = x.id AND a.contact_id = $2`, snap.AuditIDs, survivorID)
	}
	b.Queue(`DELETE FROM contact_alternates WHERE merge_id = $1`, id)
	b.Queue(`INSERT INTO contact_alternates (contact_id, kind, value, normalized, from_contact_id, merge_id, created_at)
		SELECT contact_id, kind, value, normalized, from_contact_id, merge_id, created_at
		FROM jsonb_populate_recordset(null::contact_alternates, $1) WHERE contact_id = ANY($2)
		ON CONFLICT DO NOTHING`, snap.Alternates, mergedIDs)
	b.Queue(`UPDATE duplicate_reviews d SET status = 'open', merge_id = NULL, decided_at = NULL, decided_by = NULL
		FROM jsonb_populate_recordset(null::duplicate_reviews, $1) r
		WHERE d.id = r.id AND ((d.status = 'merged' AND d.merge_id = $2) OR d.status = 'obsolete')`, snap.Reviews, id)
	b.Queue(`UPDATE merges SET undone_at = now(), undone_by = $2, undo_report = $3 WHERE id = $1`, id, a.actor, report)
	a.queue(b)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("contact: undo merge %s: %w", id, err)
	}
	// Undoing says the contacts are different people: without a record of that, their duplicate
	// checks would merge them straight back. Each pair is dismissed as a person dismisses a
	// review item, so it comes back only when one of the two changes in a matched field.
	restored, err := readContactsTx(ctx, tx, all)
	if err != nil {
		return nil, err
	}
	if err := dismissPairsTx(ctx, tx, restored, cmp.Or(score, &undoneScore), a.actor); err != nil {
		return nil, err
	}
	// Keys as the contacts now are, and a duplicate check of each against everyone else.
	if err := rekeyTx(ctx, tx, restored); err != nil {
		return nil, err
	}
	for _, cid := range all {
		if _, err := s.jobs.InsertTx(ctx, tx, DedupeArgs{ContactID: cid}, nil); err != nil {
			return nil, fmt.Errorf("contact: enqueue duplicate check: %w", err)
		}
	}
	return report, nil
}

// needsNormalize reports whether a survivor's phone lacks its normalized forms, which a merge
// cannot compute (it takes the phone's forms from the contact it came from; only the normalize
// job knows the default region).
func needsNormalize(c *Contact) bool { return c.Phone != nil && c.Normalized.Phone == nil }

// undoneScore is the score recorded for the pairs of an undone merge that had none (a person's).
var undoneScore = 1.0

// checkUndoable fails with KindConflict unless the merge's contacts are still as it left them:
// the survivor active and each merged contact merged into it by this merge alone.
func (s *Store) checkUndoable(ctx context.Context, tx pgx.Tx, id, survivorID uuid.UUID, mergedIDs []uuid.UUID, current map[uuid.UUID]*Contact) error {
	later := func(contactID uuid.UUID) string {
		var mid uuid.UUID
		err := tx.QueryRow(ctx, `SELECT id FROM merges WHERE $1 = ANY(merged_ids) AND undone_at IS NULL AND id <> $2
			ORDER BY id DESC LIMIT 1`, contactID, id).Scan(&mid)
		if err != nil {
			return ""
		}
		return " by merge " + mid.String()
	}
	if sv := current[survivorID]; sv == nil || sv.Status == StatusMerged {
		return &Error{Kind: KindConflict, Message: fmt.Sprintf(
			"the survivor %s has since been merged into another contact%s; undo that merge first", survivorID, later(survivorID))}
	}
	for _, mid := range mergedIDs {
		c := current[mid]
		if c == nil || c.Status != StatusMerged || c.MergedInto == nil || *c.MergedInto != survivorID {
			return &Error{Kind: KindConflict, Message: fmt.Sprintf(
				"contact %s has since been merged again%s; undo that merge first", mid, later(mid))}
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM merges WHERE $1 = ANY(merged_ids) AND undone_at IS NULL AND id <> $2`,
			mid, id).Scan(&n); err != nil {
			return fmt.Errorf("contact: check later merges: %w", err)
		}
		if n > 0 {
			return &Error{Kind: KindConflict, Message: fmt.Sprintf(
				"contact %s has since been merged again%s; undo that merge first", mid, later(mid))}
		}
	}
	return nil
}

// snapshotContacts reads contacts from a snapshot's JSON rows, by id.
func snapshotContacts(ctx context.Context, tx pgx.Tx, rows json.RawMessage) (map[uuid.UUID]*Contact, error) {
	r, err := tx.Query(ctx, `SELECT `+contactColumns+` FROM jsonb_populate_recordset(null::contacts, $1) c`, rows)
	if err != nil {
		return nil, fmt.Errorf("contact: read snapshot: %w", err)
	}
	got, err := pgx.CollectRows(r, func(r pgx.CollectableRow) (*Contact, error) { return scanContact(r) })
	if err != nil {
		return nil, fmt.Errorf("contact: read snapshot: %w", err)
	}
	out := make(map[uuid.UUID]*Contact, len(got))
	for _, c := range got {
		out[c.ID] = c
	}
	return out, nil
}

// restoreSurvivor gives the survivor back the values it had before the merge, field by field,
// where it still has the value the merge gave it; a field changed since keeps its value and
// gets a line in the report. It returns the audited changes and the report.
func restoreSurvivor(ctx context.Context, tx pgx.Tx, cur, before, after *Contact) (map[string]Change, []string, error) {
	var report []string
	out := *cur
	out.Preferences = cur.Preferences.clone()
	same := func(a, b *string) bool { return strPtrValue(a) == strPtrValue(b) }
	for _, name := range MergeFields {
		c, b, a := *cur.textField(name), *before.textField(name), *after.textField(name)
		switch {
		case same(c, b):
		case same(c, a):
			*out.textField(name) = b
			switch name {
			case "email":
				out.Normalized.Email = before.Normalized.Email
			case "phone":
				out.Normalized.Phone, out.Normalized.PhoneExtension, out.Normalized.PhoneValid =
					before.Normalized.Phone, before.Normalized.PhoneExtension, before.Normalized.PhoneValid
			}
		default:
			kept := "no value"
			if c != nil {
				kept = fmt.Sprintf("%q", *c)
			}
			report = append(report, fmt.Sprintf("survivor.%s changed since the merge; kept %s", name, kept))
		}
	}
	switch {
	case cur.Preferences.equal(before.Preferences):
	case cur.Preferences.equal(after.Preferences):
		out.Preferences = before.Preferences.clone()
	default:
		report = append(report, "survivor.preferences changed since the merge; kept the current ones")
	}
	changes := out.fieldChanges(cur)
	_, err := tx.Exec(ctx, `
		UPDATE contacts SET first_name = $2, last_name = $3, email = $4, phone = $5, title = $6,
			company = $7, preferences = $8, email_normalized = $9, phone_e164 = $10,
			phone_extension = $11, phone_valid = $12, version = version + 1, updated_at = now()
		WHERE id = $1`,
		out.ID, out.FirstName, out.LastName, out.Email, out.Phone, out.Title, out.Company,
		out.Preferences, out.Normalized.Email, out.Normalized.Phone, out.Normalized.PhoneExtension,
		out.Normalized.PhoneValid)
	if err != nil {
		return nil, nil, fmt.Errorf("contact: restore survivor %s: %w", cur.ID, err)
	}
	return changes, report, nil
}

// restoreRelationships reverses what a merge did to relationships (rc), where they are still as
// the merge left them, and reports those that are not.
func restoreRelationships(ctx context.Context, tx pgx.Tx, survivorID uuid.UUID, rc *relChanges) ([]string, error) {
	var report []string
	exec := func(sql string, args ...any) (int64, error) {
		tag, err := tx.Exec(ctx, sql, args...)
		if err != nil {
			return 0, fmt.Errorf("contact: restore relationships: %w", err)
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
			return nil, fmt.Errorf("contact: restore relationships: %w", err)
		}
		if !ok {
			report = append(report, fmt.Sprintf("contacts[%s].relationships: primary contact of account %s not restored (the account has another primary contact now, or the relationship was removed)", p.ContactID, p.AccountID))
		}
	}
	return report, nil
}
