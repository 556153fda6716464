package contact

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// MaxBatchItems bounds the contacts of one batch write.
const MaxBatchItems = 500

// BatchMode says what a batch does with an item that matches an existing contact.
type BatchMode string

// The batch modes.
const (
	// BatchCreate makes every item a new contact: an item that matches one fails (by email
	// under the same rule as a single create, 409 unless AllowDuplicate).
	BatchCreate BatchMode = "create"
	// BatchUpsert updates the contact an item matches with the item's fields, and creates one
	// for an item that matches none.
	BatchUpsert BatchMode = "upsert"
)

// BatchMatch says how a batch item is matched to an existing contact.
type BatchMatch string

// The ways to match.
const (
	// MatchEmail matches the active contact (the oldest) with the item's normalized email.
	MatchEmail BatchMatch = "email"
	// MatchExternalID matches the contact the item's (source, externalId) refers to: the
	// external reference imports record (package importer owns them, through Refs).
	MatchExternalID BatchMatch = "externalId"
)

// DefaultBatchSource is the source of a batch's external ids when it names none.
const DefaultBatchSource = "api"

// MaxExternalIDLen bounds an external id, in characters.
const MaxExternalIDLen = 255

// Batch is a batch write: up to MaxBatchItems contacts created or upserted together.
type Batch struct {
	Mode    BatchMode
	MatchOn BatchMatch
	// Source qualifies the items' external ids (DefaultBatchSource when empty).
	Source string
	// AllowDuplicate creates contacts even when an active contact has the same email.
	AllowDuplicate bool
	Items          []BatchItem
}

// BatchItem is one contact of a batch.
type BatchItem struct {
	// Index is the item's position in the request; its errors name contacts[Index].field.
	Index int
	// Fields are the item's fields as a partial update: an update changes the ones Set (Null
	// clears), a new contact gets the ones Set and not Null.
	Fields Update
	// Relationships are created with a new contact; an item that updates one may not have any.
	Relationships []NewRelationship
	// ExternalID is the item's id in Source; required when matching on it, and recorded for a
	// contact the item creates.
	ExternalID string
	// Consented records a new consent event with a contact the item creates (see
	// NewContact.Consented).
	Consented func(ctx context.Context, tx pgx.Tx, c *Contact) error
}

// BatchStatus is what a batch did with one item.
type BatchStatus string

// The batch item statuses.
const (
	BatchCreated   BatchStatus = "created"
	BatchUpdated   BatchStatus = "updated"
	BatchUnchanged BatchStatus = "unchanged"
	BatchError     BatchStatus = "error"
)

// BatchResult is the outcome of one item, in the order of Batch.Items.
type BatchResult struct {
	Index  int
	Status BatchStatus
	// ID is the contact created, updated or left unchanged (uuid.Nil for an error, unless the
	// error names the contact the item collides with: then ID is that contact).
	ID uuid.UUID
	// Err is the item's *db.Error (fields named contacts[Index].field) when Status is error.
	Err error
}

// Refs resolves and records contacts' external references (source, externalId), which package
// importer owns; the store uses them to match batch items on their external id.
type Refs interface {
	// LockLookupTx takes a transaction-scoped lock on each (source, externalId) of ids, in a
	// fixed order, and returns the contacts the known ones refer to.
	LockLookupTx(ctx context.Context, tx pgx.Tx, source string, ids []string) (map[string]uuid.UUID, error)
	// AddTx records that (source, externalID) refers to contactID.
	AddTx(ctx context.Context, tx pgx.Tx, source, externalID string, contactID uuid.UUID) error
}

// SetRefs sets where the store resolves and records external references. Call it once, before
// the store is used; without it a batch cannot match on externalId.
func (s *Store) SetRefs(r Refs) { s.refs = r }

// Validate reports what is wrong with the batch as a whole (mode, matchOn, source, size).
// Items are validated one by one by WriteBatch: a bad item fails alone.
func (b *Batch) Validate() error {
	var errs db.FieldErrors
	switch b.Mode {
	case BatchCreate, BatchUpsert:
	default:
		errs.Add("mode", "must be create or upsert")
	}
	switch b.MatchOn {
	case MatchEmail, MatchExternalID:
	default:
		errs.Add("matchOn", "must be email or externalId")
	}
	b.Source = CleanText(&errs, "source", b.Source, MaxNameLen)
	if b.Source == "" {
		b.Source = DefaultBatchSource
	}
	if len(b.Items) > MaxBatchItems {
		errs.Add("contacts", "must have at most %d items (got %d)", MaxBatchItems, len(b.Items))
	}
	return errs.Err()
}

// WriteBatch creates or upserts the batch's items in one transaction and returns one result per
// item, in order. Each item is validated first and written under a savepoint, so a bad item
// (invalid, a duplicate email, an external id already taken) is reported alone and writes
// nothing, while the others commit. Items of one batch that match one another (the same email
// or external id) are resolved in order: a later one updates the contact an earlier one
// created (upsert) or fails as its duplicate (create). Every change is audited as a single
// create or update would be, and the normalize jobs of the batch are enqueued together in its
// transaction. Only a failure of the database fails the whole batch.
func (s *Store) WriteBatch(ctx context.Context, b Batch) ([]BatchResult, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	if b.MatchOn == MatchExternalID && s.refs == nil {
		return nil, errors.New("contact: no external reference store wired (SetRefs)")
	}
	results := make([]BatchResult, len(b.Items))
	valid := make([]bool, len(b.Items))
	for i := range b.Items {
		it := &b.Items[i]
		results[i] = BatchResult{Index: it.Index}
		if err := b.validateItem(it); err != nil {
			results[i].Status, results[i].Err = BatchError, prefixErr(err, it.Index)
			continue
		}
		valid[i] = true
	}
	err := s.db.RetryTx(ctx, func(tx pgx.Tx) error {
		return s.writeBatchTx(ctx, tx, b, valid, results)
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// validateItem trims the item and checks its fields and what the batch needs of it.
func (b *Batch) validateItem(it *BatchItem) error {
	var errs db.FieldErrors
	if err := it.Fields.Validate(); err != nil {
		var de *db.Error
		if errors.As(err, &de) {
			errs = append(errs, de.Fields...)
		}
	}
	it.ExternalID = CleanText(&errs, "externalId", it.ExternalID, MaxExternalIDLen)
	switch {
	case b.MatchOn == MatchExternalID && it.ExternalID == "":
		errs.Add("externalId", "is required to match on externalId")
	case b.MatchOn == MatchEmail && b.Mode == BatchUpsert && (!it.Fields.Email.Set || it.Fields.Email.Null):
		errs.Add("email", "is required to upsert by email")
	}
	return errs.Err()
}

// newContact is the item as a new contact: its present, non-null fields.
func (it *BatchItem) newContact(allowDuplicate bool) NewContact {
	in := NewContact{Preferences: it.Fields.Preferences, Relationships: it.Relationships, AllowDuplicate: allowDuplicate,
		Consented: it.Consented, Custom: it.Fields.Custom, Tags: it.Fields.Tags.Value}
	if it.Fields.Type.Set && !it.Fields.Type.Null {
		in.Type = it.Fields.Type.Value
	}
	for _, f := range Fields {
		if o := f.update(&it.Fields); o.Set && !o.Null {
			*f.input(&in) = o.Value
		}
	}
	return in
}

func (s *Store) writeBatchTx(ctx context.Context, tx pgx.Tx, b Batch, valid []bool, results []BatchResult) error {
	// Lock every key the batch matches on up front, in one order, so that two batches
	// sharing keys wait for each other instead of deadlocking.
	var refs map[string]uuid.UUID
	var keys []string
	for i, it := range b.Items {
		if !valid[i] {
			continue
		}
		switch {
		case b.MatchOn == MatchExternalID:
			keys = append(keys, it.ExternalID)
		case it.Fields.Email.Set && !it.Fields.Email.Null:
			if k := EmailKey(&it.Fields.Email.Value); k != nil {
				keys = append(keys, strings.ToLower(*k))
			}
		}
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	if b.MatchOn == MatchExternalID {
		var err error
		if refs, err = s.refs.LockLookupTx(ctx, tx, b.Source, keys); err != nil {
			return err
		}
	} else if len(keys) > 0 {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended(k, 7001)) FROM unnest($1::text[]) AS k ORDER BY k`, keys); err != nil {
			return fmt.Errorf("contact: lock batch emails: %w", err)
		}
	}
	suppressed, err := s.suppressedItems(ctx, tx, b, valid)
	if err != nil {
		return err
	}
	var jobs []river.InsertManyParams
	queued := map[uuid.UUID]bool{}
	for i := range b.Items {
		if !valid[i] {
			continue
		}
		it := &b.Items[i]
		sp, err := tx.Begin(ctx)
		if err != nil {
			return fmt.Errorf("contact: batch savepoint: %w", err)
		}
		res, normalize, err := s.writeItem(ctx, sp, b, it, refs, suppressed[i])
		if err != nil {
			if k := db.ErrorKind(err); k == db.KindInternal || k == db.KindUnavailable {
				return err
			}
			if rbErr := sp.Rollback(ctx); rbErr != nil {
				return fmt.Errorf("contact: batch roll back item %d: %w", it.Index, rbErr)
			}
			results[i] = BatchResult{Index: it.Index, Status: BatchError, Err: prefixErr(err, it.Index)}
			var de *db.Error
			if errors.As(err, &de) && de.ExistingID != "" {
				results[i].ID, _ = uuid.Parse(de.ExistingID)
			}
			continue
		}
		if err := sp.Commit(ctx); err != nil {
			return fmt.Errorf("contact: batch release item %d: %w", it.Index, err)
		}
		results[i] = res
		if res.Status == BatchCreated && b.MatchOn == MatchExternalID {
			refs[it.ExternalID] = res.ID
		}
		if normalize && !queued[res.ID] {
			// One job per contact: a contact two items changed is normalized once.
			queued[res.ID] = true
			jobs = append(jobs, river.InsertManyParams{Args: NormalizeArgs{ContactID: res.ID}})
		}
	}
	if len(jobs) > 0 {
		if _, err := s.db.Jobs.InsertManyTx(ctx, tx, jobs); err != nil {
			return fmt.Errorf("contact: enqueue batch normalize: %w", err)
		}
	}
	return nil
}

// suppressedItems checks the valid items' emails and phones against the suppression list in one
// query, by position in b.Items (nil without a suppressor).
func (s *Store) suppressedItems(ctx context.Context, tx pgx.Tx, b Batch, valid []bool) ([]bool, error) {
	out := make([]bool, len(b.Items))
	if s.suppressor == nil {
		return out, nil
	}
	vs := make([]Values, len(b.Items))
	for i := range b.Items {
		if !valid[i] {
			continue
		}
		in := b.Items[i].newContact(false)
		vs[i] = in.Values()
	}
	return s.suppressor.SuppressedTx(ctx, tx, vs, s.region)
}

// writeItem creates or updates one valid item in tx and says whether it needs normalizing.
func (s *Store) writeItem(ctx context.Context, tx pgx.Tx, b Batch, it *BatchItem, refs map[string]uuid.UUID, suppressed bool) (BatchResult, bool, error) {
	res := BatchResult{Index: it.Index}
	existing, err := s.matchItem(ctx, tx, b, it, refs)
	if err != nil {
		return res, false, err
	}
	if existing != uuid.Nil {
		if b.Mode == BatchCreate {
			return res, false, &db.Error{Kind: db.KindConflict, ExistingID: existing.String(),
				Message: fmt.Sprintf("externalId %q of source %q already refers to a contact", it.ExternalID, b.Source)}
		}
		if len(it.Relationships) > 0 {
			return res, false, db.Invalid("relationships", "only a new contact takes relationships in a batch; add them to an existing one through its relationships")
		}
		u := it.Fields
		u.AllowDuplicate = b.AllowDuplicate
		c, changes, err := s.updateTx(ctx, tx, existing, u)
		if err != nil {
			return res, false, err
		}
		res.ID, res.Status = c.ID, BatchUnchanged
		if len(changes) > 0 {
			res.Status = BatchUpdated
		}
		return res, MatchedFieldChanged(changes), nil
	}
	in := it.newContact(b.AllowDuplicate)
	if err := in.Validate(); err != nil {
		return res, false, err
	}
	in.suppressionChecked, in.suppressed = s.suppressor != nil, suppressed
	c, err := s.createTx(ctx, tx, in)
	if err != nil {
		return res, false, err
	}
	if b.MatchOn == MatchExternalID {
		if err := s.refs.AddTx(ctx, tx, b.Source, it.ExternalID, c.ID); err != nil {
			return res, false, err
		}
	}
	res.ID, res.Status = c.ID, BatchCreated
	return res, true, nil
}

// matchItem returns the contact the item matches, uuid.Nil for none. In create mode by email
// nothing is matched here: the create itself applies the duplicate rule.
func (s *Store) matchItem(ctx context.Context, tx pgx.Tx, b Batch, it *BatchItem, refs map[string]uuid.UUID) (uuid.UUID, error) {
	if b.MatchOn == MatchExternalID {
		return refs[it.ExternalID], nil
	}
	if b.Mode == BatchCreate {
		return uuid.Nil, nil
	}
	key := EmailKey(&it.Fields.Email.Value)
	if key == nil {
		return uuid.Nil, nil
	}
	var id uuid.UUID
	err := tx.QueryRow(ctx, `SELECT id FROM contacts WHERE lower(email_normalized) = $1 AND status = 'active'
		AND email_normalized IS NOT NULL ORDER BY id LIMIT 1`, strings.ToLower(*key)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, nil
	}
	if err != nil {
		return uuid.Nil, fmt.Errorf("contact: match batch item by email: %w", err)
	}
	return id, nil
}

// prefixErr names a domain error's fields under contacts[index]; an error without fields gets
// the item's own path.
func prefixErr(err error, index int) error {
	var de *db.Error
	if !errors.As(err, &de) {
		return err
	}
	out := *de
	prefix := fmt.Sprintf("contacts[%d]", index)
	out.Fields = make([]db.FieldError, len(de.Fields))
	for i, f := range de.Fields {
		out.Fields[i] = db.FieldError{Field: prefix + "." + f.Field, Message: f.Message}
	}
	return &out
}
