package event

import (
	"context"
	"fmt"

	"github.com/contactd/contactd/contact"
	"github.com/jackc/pgx/v5"
)

// Scrubber scrubs the events of other contacts that hold erased people's values (the merge
// and unmerge events of a contact the person was once merged with): each value that mentions
// them becomes contact.ErasedMarker. Their own events are Concern's.
type Scrubber struct{}

// ScrubTx scrubs the events of the contacts that shared a merge with the people.
func (Scrubber) ScrubTx(ctx context.Context, tx pgx.Tx, p *contact.Personal) error {
	return contact.ScrubJSONColumnTx(ctx, tx, p, "events", "id", "data", fmt.Sprintf(contact.MergePartnersSQL, "contact_id"))
}
