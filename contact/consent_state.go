package contact

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Each contact row carries its consent state (contacts.consent_state, migration 00039): what
// package consent decided, over the contact and every contact merged into it, of each channel
// and purpose, so that reachability reads one row per contact. It is derived data: package
// consent computes it from its events and writes it through SetConsentStatesTx, and nothing in
// this package reads it, snapshots restore it or the API shows it. NULL means not known (a
// contact with events from before the column): consent then computes the answer from the events.

// SetConsentStatesTx stores states[i] (a JSON object, or "" for not known) as the consent state
// of ids[i]; rows whose state is already that are left alone. It changes neither the contact's
// version nor its updated_at: the contact's own fields did not change.
func SetConsentStatesTx(ctx context.Context, tx pgx.Tx, ids []uuid.UUID, states []string) error {
	if len(ids) != len(states) {
		return fmt.Errorf("contact: set consent states: %d ids, %d states", len(ids), len(states))
	}
	if len(ids) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `UPDATE contacts c SET consent_state = NULLIF(u.state, '')::jsonb
		FROM unnest($1::uuid[], $2::text[]) AS u (id, state)
		WHERE c.id = u.id AND c.consent_state IS DISTINCT FROM NULLIF(u.state, '')::jsonb`, ids, states); err != nil {
		return fmt.Errorf("contact: set consent states: %w", err)
	}
	return nil
}
