package erasure_test

import (
	"github.com/contactd/contactd/merge"
	"github.com/google/uuid"
)

func mergeReq(survivor uuid.UUID, others ...uuid.UUID) merge.Request {
	return merge.Request{ContactIDs: append([]uuid.UUID{survivor}, others...), SurvivorID: &survivor}
}
