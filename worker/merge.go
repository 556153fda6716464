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
		_, err := store.Merge(ctx, contact.MergeRequest{ContactIDs: ids, ModelVersion: modelVersion, Score: &score})
		return err
	}
}

// BulkMergeFunc is how full scans merge their clusters: the store's MergeClusters, many clusters
// per transaction, each merge the one MergeFunc would make.
func BulkMergeFunc(store *contact.Store) dedupe.BulkMergeFunc {
	return func(ctx context.Context, reqs []contact.MergeRequest) (map[int]error, error) {
		_, failed, err := store.MergeClusters(ctx, reqs)
		return failed, err
	}
}
