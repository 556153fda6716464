package dedupe

import (
	"context"

	"github.com/contactd/contactd/contact"
	"github.com/jackc/pgx/v5"
)

// ScrubTx removes erased people's values from the trained models: a model's term frequencies
// count the most common values of a field among two or more records, which a person with two
// records of theirs can be. The entries that mention them go; the rest of the model stays.
func (s *Store) ScrubTx(ctx context.Context, tx pgx.Tx, p *contact.Personal) error {
	// A handful of models: each is read and checked.
	return contact.ScrubJSONRowsTx(ctx, tx, p, "matcher_models", "version int", "model", "$1::boolean", true)
}
