package group

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Membership is a contact's membership of a static group.
type Membership struct {
	ContactID uuid.UUID
	GroupID   uuid.UUID
	Name      string
}

// MembershipsOf returns the static groups the contacts are members of, by contact then group
// name (an access request's export; smart groups select by filter and hold no one).
func (s *Store) MembershipsOf(ctx context.Context, contactIDs []uuid.UUID) ([]Membership, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT m.contact_id, g.id, g.name FROM group_members m
		JOIN contact_groups g ON g.id = m.group_id WHERE m.contact_id = ANY($1) ORDER BY m.contact_id, g.name, g.id`, contactIDs)
	if err != nil {
		return nil, fmt.Errorf("group: memberships: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Membership])
	if err != nil {
		return nil, fmt.Errorf("group: memberships: %w", err)
	}
	return out, nil
}
