package event

import (
	"context"

	"github.com/contactd/contactd/contact"
	"github.com/jackc/pgx/v5"
)

// Scrubber scrubs the events of other contacts that hold erased people's values (the merge
// and unmerge events of a contact the person was once merged with): each value that mentions
// them becomes contact.ErasedMarker. Their own events are Concern's.
type Scrubber struct{}

// ScrubTx scrubs the events of the contacts that shared a merge with the people, found by
// their contact ids.
func (Scrubber) ScrubTx(ctx context.Context, tx pgx.Tx, p *contact.Personal) error {
	partners, err := contact.MergePartnersTx(ctx, tx, p)
	if err != nil || len(partners) == 0 {
		return err
	}
	return contact.ScrubJSONRowsTx(ctx, tx, p, "events", "id bigint", "data", "t.contact_id = ANY($1) AND t.data IS NOT NULL", partners)
}
