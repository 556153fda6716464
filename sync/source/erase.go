package source

import (
	"context"

	"github.com/contactd/contactd/contact"
	"github.com/jackc/pgx/v5"
)

// ScrubTx replaces, in the runs' errors, every value that mentions erased people by
// contact.ErasedMarker (a run reports what it refused, which can quote a record). The runs are
// found through the trigram index on their errors' text. The people's links are the Links
// concern's (EraseTx).
func (s *Store) ScrubTx(ctx context.Context, tx pgx.Tx, p *contact.Personal) error {
	return contact.ScrubJSONTextTx(ctx, tx, p, "sync_runs", "id uuid", "errors", "(t.errors::text)")
}
