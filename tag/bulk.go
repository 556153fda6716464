package tag

import (
	"context"
	"fmt"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// MaxBulkIDs bounds the contact ids one bulk change names (a filter has no bound).
const MaxBulkIDs = 10000

// Bulk is one change of many contacts' tags: the contacts named, or those a filter selects
// (exactly one of the two), get Add and lose Remove.
type Bulk struct {
	ContactIDs  []uuid.UUID
	Filter      *contact.Filter
	Add, Remove []string
}

// BulkResult says how many contacts a bulk change selected and how many it changed.
type BulkResult struct {
	Matched, Changed int
}

// validate cleans the tag names and reports every wrong field.
func (b *Bulk) validate() error {
	var errs db.FieldErrors
	var e db.FieldErrors
	b.Add, e = Clean(b.Add, "add")
	errs = append(errs, e...)
	b.Remove, e = Clean(b.Remove, "remove")
	errs = append(errs, e...)
	if len(b.Add) == 0 && len(b.Remove) == 0 && len(errs) == 0 {
		errs.Add("add", "add or remove must name a tag")
	}
	switch {
	case b.Filter == nil && len(b.ContactIDs) == 0:
		errs.Add("contactIds", "contactIds or filter is required")
	case b.Filter != nil && len(b.ContactIDs) > 0:
		errs.Add("filter", "give contactIds or filter, not both")
	case len(b.ContactIDs) > MaxBulkIDs:
		errs.Add("contactIds", "must have at most %d ids", MaxBulkIDs)
	}
	return errs.Err()
}

// Change applies a bulk change in one transaction, auditing every contact it changes. Named
// contacts that do not exist or were merged fail it (each named); a filter selects as the list
// does.
func (s *Store) Change(ctx context.Context, b Bulk) (BulkResult, error) {
	if err := b.validate(); err != nil {
		return BulkResult{}, err
	}
	var res BulkResult
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		ids, err := bulkTargets(ctx, tx, b)
		if err != nil {
			return err
		}
		res.Matched = len(ids)
		ch := newChange()
		removeKeys := make([]string, len(b.Remove))
		for i, n := range b.Remove {
			removeKeys[i] = Key(n)
		}
		if err := removeTx(ctx, tx, ids, removeKeys, ch); err != nil {
			return err
		}
		tagIDs, err := ensureTx(ctx, tx, b.Add)
		if err != nil {
			return err
		}
		if err := addTx(ctx, tx, ids, tagIDs, ch); err != nil {
			return err
		}
		res.Changed = len(ch.contacts())
		a := contact.NewAudit(ctx)
		if err := s.audit(ctx, tx, a, "tags", ch); err != nil {
			return err
		}
		return a.Flush(ctx, tx)
	})
	return res, err
}

// bulkTargets locks (shares) the contacts a bulk change selects, so that no merge moves them
// under it, and returns their ids.
func bulkTargets(ctx context.Context, tx pgx.Tx, b Bulk) ([]uuid.UUID, error) {
	if b.Filter != nil {
		if err := b.Filter.PrepareTx(ctx, tx); err != nil {
			return nil, err
		}
		where, args := b.Filter.Where(nil)
		rows, err := tx.Query(ctx, `SELECT c.id FROM contacts c WHERE `+where+` ORDER BY c.id FOR SHARE OF c`, args...)
		if err != nil {
			return nil, fmt.Errorf("tag: select contacts: %w", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			return nil, fmt.Errorf("tag: select contacts: %w", err)
		}
		return ids, nil
	}
	rows, err := tx.Query(ctx, `SELECT id FROM contacts WHERE id = ANY($1) AND status <> 'merged' ORDER BY id FOR SHARE`, b.ContactIDs)
	if err != nil {
		return nil, fmt.Errorf("tag: select contacts: %w", err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("tag: select contacts: %w", err)
	}
	have := make(map[uuid.UUID]bool, len(found))
	for _, id := range found {
		have[id] = true
	}
	var errs db.FieldErrors
	for i, id := range b.ContactIDs {
		if !have[id] {
			errs.Add(fmt.Sprintf("contactIds[%d]", i), "no such contact, or it was merged into another")
		}
	}
	return found, errs.Err()
}
