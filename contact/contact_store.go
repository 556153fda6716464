package contact

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/contactd/contactd/internal/db"

	"github.com/contactd/contactd/matcher"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Nullable returns nil for "" and a pointer to s otherwise.
func Nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// EmailKey is the normalized email a contact is stored with, or nil.
func EmailKey(email *string) *string {
	if email == nil {
		return nil
	}
	n, err := matcher.NormalizeEmail(*email)
	if err != nil {
		return nil
	}
	return &n
}

// CreateContact validates in and stores it with its relationships, its audit entry and its
// normalize job in one transaction. When an active contact already has the same normalized email
// and in.AllowDuplicate is false it fails with KindConflict naming that contact.
func (s *Store) CreateContact(ctx context.Context, in NewContact) (*Contact, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var c *Contact
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		if c, err = s.createTx(ctx, tx, in); err != nil {
			return err
		}
		// The job writes the normalized forms and blocking keys, then checks for duplicates.
		if _, err := s.db.Jobs.InsertTx(ctx, tx, NormalizeArgs{ContactID: c.ID}, nil); err != nil {
			return fmt.Errorf("contact: enqueue normalize: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// createTx stores a validated new contact with its relationships and audit entry in tx (the
// caller enqueues its normalize job). It fails with KindConflict naming the active contact that
// has the same normalized email unless in.AllowDuplicate.
func (s *Store) createTx(ctx context.Context, tx pgx.Tx, in NewContact) (*Contact, error) {
	prefs := Preferences{}
	prefs.apply(in.Preferences)
	c := &Contact{ID: uuid.Must(uuid.NewV7()), Values: in.Values(), Status: StatusActive, Preferences: prefs, Version: 1,
		ExplicitType: typePtr(in.Type)}
	if err := s.checkSuppressed(ctx, tx, &in, c.Values); err != nil {
		return nil, err
	}
	custom, err := customValuesTx(ctx, tx, c.ID, nil, in.Custom, true)
	if err != nil {
		return nil, err
	}
	c.Custom = custom
	c.Normalized.Email = EmailKey(c.Email)
	checkDup := c.Normalized.Email != nil && !in.AllowDuplicate
	var dupKey *string
	if checkDup {
		k := strings.ToLower(*c.Normalized.Email)
		dupKey = &k
	}
	// One round trip: the duplicate lock, the insert (which does not happen when an active
	// contact has the address) and the audit entry.
	b := &pgx.Batch{}
	if checkDup {
		// A transaction-scoped advisory lock on the address serializes concurrent creates of
		// it; the insert's own statement snapshot is taken after the lock is held.
		b.Queue(lockEmailSQL, *dupKey)
	}
	inserted := false
	b.Queue(insertContactSQL, append([]any{c.ID, c.Preferences, c.Normalized.Email, dupKey, c.Custom, c.ExplicitType},
		fieldArgs(&c.Values)...)...,
	).QueryRow(func(row pgx.Row) error {
		err := row.Scan(&c.CreatedAt, &c.UpdatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		inserted = err == nil
		return err
	})
	a := NewAudit(ctx)
	a.Add("create", "contact", c.ID, &c.ID, c.Changes(nil))
	a.Queue(b)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("contact: insert: %w", err)
	}
	if !inserted {
		return nil, duplicateEmailError(ctx, tx, *dupKey)
	}
	rels, err := s.addRelationships(ctx, tx, a, c.ID, in.Relationships)
	if err != nil {
		return nil, err
	}
	c.Relationships = rels
	if _, err := s.setTags(ctx, tx, a, c.ID, in.Tags); err != nil {
		return nil, err
	}
	if err := s.fillTags(ctx, tx, c); err != nil {
		return nil, err
	}
	if err := a.Flush(ctx, tx); err != nil {
		return nil, err
	}
	if in.Consented != nil {
		if err := in.Consented(ctx, tx, c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// checkSuppressed fails with KindSuppressed when the new contact's email or phone is on the
// suppression list and it carries no new consent.
func (s *Store) checkSuppressed(ctx context.Context, tx pgx.Tx, in *NewContact, v Values) error {
	if s.suppressor == nil || in.Consented != nil {
		return nil
	}
	hit := in.suppressed
	if !in.suppressionChecked {
		hits, err := s.suppressor.SuppressedTx(ctx, tx, []Values{v}, s.region)
		if err != nil {
			return err
		}
		hit = hits[0]
	}
	if hit {
		return SuppressedError("the email or phone belongs to a person who was erased or withdrew every consent; " +
			"create them again only with a new consent event (consent)")
	}
	return nil
}

// lockEmailSQL takes the transaction-scoped advisory lock on a lower-cased normalized email
// that creates and updates giving a contact that address hold while they check it is free.
const lockEmailSQL = `SELECT pg_advisory_xact_lock(hashtextextended($1, 7001))`

// claimEmail checks, under the address's advisory lock, that no other active contact has the
// normalized email next, and fails with KindConflict naming one that has. Keeping the contact's
// own address old (in any case) claims nothing and takes no lock.
func claimEmail(ctx context.Context, tx pgx.Tx, id uuid.UUID, old, next *string) error {
	if next == nil {
		return nil
	}
	key := strings.ToLower(*next)
	if old != nil && strings.ToLower(*old) == key {
		return nil
	}
	taken := false
	b := &pgx.Batch{}
	b.Queue(lockEmailSQL, key)
	// Its statement snapshot is taken after the lock is held, so a create or update of the
	// address that held the lock before has committed and is seen.
	b.Queue(`SELECT EXISTS (SELECT 1 FROM contacts
		WHERE lower(email_normalized) = $1 AND status = 'active' AND email_normalized IS NOT NULL AND id <> $2)`,
		key, id).QueryRow(func(row pgx.Row) error { return row.Scan(&taken) })
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("contact: check email of %s: %w", id, err)
	}
	if taken {
		return duplicateEmailError(ctx, tx, key)
	}
	return nil
}

// duplicateEmailError names the active contact that has the (lower-cased) normalized email.
func duplicateEmailError(ctx context.Context, tx pgx.Tx, key string) error {
	var existing uuid.UUID
	err := tx.QueryRow(ctx, `
		SELECT id FROM contacts
		WHERE lower(email_normalized) = $1 AND status = 'active' AND email_normalized IS NOT NULL
		ORDER BY id LIMIT 1`, key).Scan(&existing)
	if err != nil {
		return fmt.Errorf("contact: find duplicate email: %w", err)
	}
	return &db.Error{Kind: db.KindConflict, Message: "an active contact already has this email address", ExistingID: existing.String()}
}

// GetContactTx returns the contact with its current relationships as tx sees them, without
// following merges: a merge's dry run reads its survivor before it rolls back.
func (s *Store) GetContactTx(ctx context.Context, tx pgx.Tx, id uuid.UUID) (*Contact, error) {
	c, err := ScanContact(tx.QueryRow(ctx, `SELECT `+contactColumns+` FROM contacts c WHERE c.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, db.NotFound("contact %s not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("contact: get %s: %w", id, err)
	}
	if s.related != nil {
		rels, err := s.related.CurrentOf(ctx, tx, []uuid.UUID{id})
		if err != nil {
			return nil, err
		}
		c.Relationships = rels[id]
	}
	return c, nil
}

// GetContact returns the contact with its current relationships. For a merged contact,
// MergedInto is the contact at the end of its chain of merges (the one that now holds it).
func (s *Store) GetContact(ctx context.Context, id uuid.UUID) (*Contact, error) {
	c, err := ScanContact(s.db.Pool.QueryRow(ctx, `SELECT `+contactColumns+` FROM contacts c WHERE c.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, db.NotFound("contact %s not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("contact: get %s: %w", id, err)
	}
	if c.Status == StatusErased {
		return nil, erasedError(id)
	}
	if c.MergedInto != nil {
		end, err := s.survivorOf(ctx, id)
		if err != nil {
			return nil, err
		}
		c.MergedInto = &end
	}
	rels, err := s.relationshipsOf(ctx, []uuid.UUID{id})
	if err != nil {
		return nil, err
	}
	c.Relationships = rels[id]
	if err := s.fillTags(ctx, nil, c); err != nil {
		return nil, err
	}
	return c, nil
}

// UpdateContact applies a partial update: fields Set are changed (Null clears them), others are
// kept, preferences merge. It bumps the version, audits the changed fields and enqueues
// normalization when the email or phone changed. An update that changes nothing returns the
// contact as it is. An active contact whose email changes to the normalized email of another
// active contact fails with KindConflict naming that contact unless u.AllowDuplicate is true;
// the check holds the same lock as CreateContact's, so creates and updates of one address
// serialize.
func (s *Store) UpdateContact(ctx context.Context, id uuid.UUID, u Update) (*Contact, error) {
	if err := u.Validate(); err != nil {
		return nil, err
	}
	var out *Contact
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		c, changes, err := s.updateTx(ctx, tx, id, u)
		if err != nil {
			return err
		}
		if MatchedFieldChanged(changes) {
			// The job rewrites the normalized forms and the blocking keys, then checks for
			// duplicates.
			if _, err := s.db.Jobs.InsertTx(ctx, tx, NormalizeArgs{ContactID: c.ID}, nil); err != nil {
				return fmt.Errorf("contact: enqueue normalize: %w", err)
			}
		}
		out = c
		return nil
	})
	if err != nil {
		return nil, err
	}
	rels, err := s.relationshipsOf(ctx, []uuid.UUID{id})
	if err != nil {
		return nil, err
	}
	out.Relationships = rels[id]
	return out, nil
}

// updateTx applies a validated partial update to the contact in tx, locking it, and audits the
// changed fields; it returns the contact as updated and its changes (none: nothing written).
// The caller enqueues normalization when MatchedFieldChanged(changes).
func (s *Store) updateTx(ctx context.Context, tx pgx.Tx, id uuid.UUID, u Update) (*Contact, map[string]Change, error) {
	c, err := ScanContact(tx.QueryRow(ctx, `SELECT `+contactColumns+` FROM contacts c WHERE c.id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, db.NotFound("contact %s not found", id)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("contact: lock %s: %w", id, err)
	}
	if c.Status == StatusMerged {
		return nil, nil, &db.Error{Kind: db.KindConflict, Message: "contact has been merged into another contact"}
	}
	if c.Status == StatusErased {
		return nil, nil, erasedError(id)
	}
	if u.IfVersion != 0 && u.IfVersion != c.Version {
		return nil, nil, &db.Error{Kind: db.KindPreconditionFailed, Message: fmt.Sprintf("contact is at version %d, not %d", c.Version, u.IfVersion)}
	}
	before := *c
	before.Preferences = c.Preferences.Clone()
	for _, f := range Fields {
		if o := f.update(&u); o.Set {
			*f.Ptr(&c.Values) = nil
			if !o.Null {
				v := o.Value
				*f.Ptr(&c.Values) = &v
			}
		}
	}
	c.Preferences.apply(u.Preferences)
	if u.Custom != nil {
		if c.Custom, err = customValuesTx(ctx, tx, c.ID, c.Custom, u.Custom, false); err != nil {
			return nil, nil, err
		}
	}
	if u.Type.Set {
		c.ExplicitType = nil
		if !u.Type.Null {
			c.ExplicitType = typePtr(u.Type.Value)
		}
	}
	if c.FirstName == nil && c.LastName == nil && c.Email == nil && c.Phone == nil {
		return nil, nil, db.FieldErrors{{Field: "firstName", Message: "a contact needs a name, an email or a phone"}}.Err()
	}
	changes := c.Changes(&before)
	a := NewAudit(ctx)
	if u.Tags.Set {
		// Tags are the tag store's rows, audited there; they do not change the version.
		if _, err := s.setTags(ctx, tx, a, id, u.Tags.Value); err != nil {
			return nil, nil, err
		}
	}
	if err := s.fillTags(ctx, tx, c); err != nil {
		return nil, nil, err
	}
	if len(changes) == 0 {
		return c, nil, a.Flush(ctx, tx)
	}
	_, emailChanged := changes["email"]
	_, phoneChanged := changes["phone"]
	if emailChanged {
		c.Normalized.Email = EmailKey(c.Email)
		// Only active contacts must not share an address (as on create).
		if c.Status == StatusActive && !u.AllowDuplicate {
			if err := claimEmail(ctx, tx, c.ID, before.Normalized.Email, c.Normalized.Email); err != nil {
				return nil, nil, err
			}
		}
	}
	if phoneChanged {
		// The job writes the new forms; until then there are none rather than stale ones.
		c.Normalized.Phone, c.Normalized.PhoneExtension, c.Normalized.PhoneValid = nil, nil, nil
	}
	err = tx.QueryRow(ctx, updateContactSQL, append([]any{c.ID, c.Preferences, c.Normalized.Email, c.Normalized.Phone,
		c.Normalized.PhoneExtension, c.Normalized.PhoneValid, c.Custom, c.ExplicitType}, fieldArgs(&c.Values)...)...,
	).Scan(&c.Version, &c.UpdatedAt)
	if err != nil {
		return nil, nil, fmt.Errorf("contact: update %s: %w", id, err)
	}
	a.Add("update", "contact", c.ID, &c.ID, changes)
	if err := a.Flush(ctx, tx); err != nil {
		return nil, nil, err
	}
	return c, changes, nil
}

// ArchiveContact sets an active contact's status to archived. Archiving an archived contact
// changes nothing; a merged contact cannot be archived.
func (s *Store) ArchiveContact(ctx context.Context, id uuid.UUID) error {
	return s.db.InTx(ctx, func(tx pgx.Tx) error {
		_, err := ArchiveTx(ctx, tx, id, NewAudit(ctx))
		return err
	})
}

// ArchiveTx archives an active contact in the caller's transaction, auditing it into a (the
// caller flushes it), and reports whether it changed anything: archiving an archived contact
// does nothing, a merged contact cannot be archived (KindConflict).
func ArchiveTx(ctx context.Context, tx pgx.Tx, id uuid.UUID, a *Audit) (bool, error) {
	var status Status
	err := tx.QueryRow(ctx, `SELECT status FROM contacts WHERE id = $1 FOR UPDATE`, id).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, db.NotFound("contact %s not found", id)
	}
	if err != nil {
		return false, fmt.Errorf("contact: lock %s: %w", id, err)
	}
	switch status {
	case StatusArchived:
		return false, nil
	case StatusMerged:
		return false, &db.Error{Kind: db.KindConflict, Message: "contact has been merged into another contact"}
	case StatusErased:
		return false, erasedError(id)
	}
	if _, err := tx.Exec(ctx, `UPDATE contacts SET status = 'archived', version = version + 1, updated_at = now() WHERE id = $1`, id); err != nil {
		return false, fmt.Errorf("contact: archive %s: %w", id, err)
	}
	a.Add("archive", "contact", id, &id, map[string]Change{"status": {Before: string(status), After: string(StatusArchived)}})
	return true, a.Flush(ctx, tx)
}

// ArchiveManyTx archives the active contacts among ids in the caller's transaction, as actor,
// auditing each like ArchiveTx with one COPY, and returns those it archived. The others
// (archived or merged already, or unknown) are left alone. For bulk work (retention runs).
func ArchiveManyTx(ctx context.Context, tx pgx.Tx, ids []uuid.UUID, actor string) ([]uuid.UUID, error) {
	rows, err := tx.Query(ctx, `UPDATE contacts SET status = 'archived', version = version + 1, updated_at = now()
		WHERE id = ANY($1::uuid[]) AND status = 'active' RETURNING id`, ids)
	if err != nil {
		return nil, fmt.Errorf("contact: archive %d contacts: %w", len(ids), err)
	}
	done, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("contact: archive %d contacts: %w", len(ids), err)
	}
	const change = `{"status":{"before":"active","after":"archived"}}`
	err = CopyAuditTx(ctx, tx, actor, "archive", len(done), func(i int, buf []byte) (uuid.UUID, []byte) {
		return done[i], append(buf, change...)
	})
	return done, err
}

// ActiveWithEmailTx returns the active contact whose normalized email is email's (nil when
// none, or when email does not normalize), taking the same lock on the address as
// CreateContact: a writer that then creates a contact with it cannot race another.
func ActiveWithEmailTx(ctx context.Context, tx pgx.Tx, email string) (*uuid.UUID, error) {
	key := EmailKey(&email)
	if key == nil {
		return nil, nil
	}
	k := strings.ToLower(*key)
	if _, err := tx.Exec(ctx, lockEmailSQL, k); err != nil {
		return nil, fmt.Errorf("contact: lock email: %w", err)
	}
	var id uuid.UUID
	err := tx.QueryRow(ctx, `SELECT id FROM contacts
		WHERE lower(email_normalized) = $1 AND status = 'active' AND email_normalized IS NOT NULL ORDER BY id LIMIT 1`, k).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("contact: find email: %w", err)
	}
	return &id, nil
}

// survivorOf follows a merged contact's chain of merges to the contact at its end.
func (s *Store) survivorOf(ctx context.Context, id uuid.UUID) (uuid.UUID, error) {
	var end uuid.UUID
	err := s.db.Pool.QueryRow(ctx, `
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

// addRelationships adds a new contact's relationships through the Related store.
func (s *Store) addRelationships(ctx context.Context, tx pgx.Tx, a *Audit, id uuid.UUID, in []NewRelationship) ([]Relationship, error) {
	if len(in) == 0 {
		return nil, nil
	}
	if s.related == nil {
		return nil, errors.New("contact: no relationship store wired (SetRelated)")
	}
	return s.related.AddTx(ctx, tx, a, id, in, "relationships")
}

// relationshipsOf reads the contacts' current relationships through the Related store.
func (s *Store) relationshipsOf(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID][]Relationship, error) {
	if s.related == nil {
		return map[uuid.UUID][]Relationship{}, nil
	}
	return s.related.CurrentOf(ctx, s.db.Pool, ids)
}

// Require fails with KindNotFound unless the contact exists, and with KindConflict when it has
// been merged and forWrite is true. With forWrite it locks the contact row, so that a change
// other packages make about the contact (a relationship) serializes with changes to it.
func Require(ctx context.Context, q db.Querier, id uuid.UUID, forWrite bool) error {
	sql := `SELECT status FROM contacts WHERE id = $1`
	if forWrite {
		sql += ` FOR UPDATE`
	}
	var status Status
	err := q.QueryRow(ctx, sql, id).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return db.NotFound("contact %s not found", id)
	}
	if err != nil {
		return fmt.Errorf("contact: look up %s: %w", id, err)
	}
	if status == StatusErased {
		return erasedError(id)
	}
	if forWrite && status == StatusMerged {
		return &db.Error{Kind: db.KindConflict, Message: "contact has been merged into another contact"}
	}
	return nil
}
