package tag

import (
	"context"

	"github.com/contactd/contactd/contact"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// AddManyTx gives each of the contacts every tag named (names already cleaned, see Clean),
// creating missing tags, in a few statements whatever the number of contacts, and audits each
// contact it changed into a (the caller flushes it). Bulk writers (a sync's new contacts) use
// it.
func (s *Store) AddManyTx(ctx context.Context, tx pgx.Tx, a *contact.Audit, contactIDs []uuid.UUID, names []string) error {
	if len(contactIDs) == 0 || len(names) == 0 {
		return nil
	}
	tagIDs, err := ensureTx(ctx, tx, names)
	if err != nil {
		return err
	}
	ch := newChange()
	if err := addTx(ctx, tx, contactIDs, tagIDs, ch); err != nil {
		return err
	}
	return s.audit(ctx, tx, a, "tags", ch)
}
