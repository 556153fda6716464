package worker

import (
	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/dedupe"
)

// mergeFunc is how the dedupe workers merge the contacts the matcher is sure of. Until the
// store's lossless merge is wired here it is nil: sure pairs are proposed for review instead.
func mergeFunc(store *contact.Store) dedupe.MergeFunc {
	_ = store
	return nil
}
