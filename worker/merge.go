package worker

import (
	"context"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/dedupe"
	"github.com/google/uuid"
)

// MergeFunc is how the dedupe workers (and `contactd dedupe`) merge the contacts the matcher is sure of: the store's
// lossless, reversible merge, recording the model version and score that proposed it.
func MergeFunc(store *contact.Store) dedupe.MergeFunc {
	return func(ctx context.Context, ids []uuid.UUID, modelVersion *int, score float64) error {
		_, _, err := store.MergeContacts(ctx, contact.MergeRequest{ContactIDs: ids, ModelVersion: modelVersion, Score: &score})
		return err
	}
}
