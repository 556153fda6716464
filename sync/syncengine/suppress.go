package syncengine

import (
	"context"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/sync/source"
	"github.com/jackc/pgx/v5"
)

// suppressedMessage is the run error of a record that would re-create a suppressed person.
const suppressedMessage = contact.SuppressedMessage + ": the record's email or phone belongs to a person who was erased or withdrew every consent"

// withoutSuppressedItems returns the items whose person is not on the suppression list, in one query
// for the page, and reports the others as run errors "suppressed": a sync never re-creates an
// erased person or one who withdrew everything.
func withoutSuppressedItems[T any](ctx context.Context, tx pgx.Tx, sp contact.Suppressor, region string, items []T,
	vals func(T) contact.Values, ref func(T) string, st *source.Stats) ([]T, error) {
	if sp == nil || len(items) == 0 {
		return items, nil
	}
	vs := make([]contact.Values, len(items))
	for i, it := range items {
		vs[i] = vals(it)
	}
	hit, err := sp.SuppressedTx(ctx, tx, vs, region)
	if err != nil {
		return nil, err
	}
	kept := items[:0:0]
	for i, it := range items {
		if hit[i] {
			st.Errors = append(st.Errors, source.RunError{Ref: ref(it), Message: suppressedMessage})
			continue
		}
		kept = append(kept, it)
	}
	return kept, nil
}
