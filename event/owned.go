package event

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/contactd/contactd/contact"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Concern makes the events about a contact part of its contact-owned data for erasure: the
// events stay (they are history, and the feed must keep its seqs), but erasing a contact
// empties their data to the contact's id. Merges and undos leave events alone: a merge is an
// event of its own.
var Concern contact.Owned = concern{}

type concern struct{}

// Name keys the concern in a merge's snapshot.
func (concern) Name() string { return "events" }

// SnapshotSQL keeps nothing: a merge does not change events.
func (concern) SnapshotSQL(contact.SnapshotVars) string { return "'null'::jsonb" }

// MergeTx changes nothing.
func (concern) MergeTx(_ context.Context, _ pgx.Tx, ms []*contact.MergeSet) ([]json.RawMessage, error) {
	return make([]json.RawMessage, len(ms)), nil
}

// UndoTx restores nothing.
func (concern) UndoTx(context.Context, pgx.Tx, *contact.UndoSet) ([]string, error) { return nil, nil }

// EraseTx empties the data of every event about the contacts to their id (relationship
// events keep their relationship's id), so that no field of an erased person stays in the feed.
func (concern) EraseTx(ctx context.Context, tx pgx.Tx, contactIDs []uuid.UUID) error {
	_, err := tx.Exec(ctx, `
		UPDATE events e SET audit_id = NULL, data = jsonb_build_object('contactId', e.contact_id)
			|| CASE WHEN e.type LIKE 'relationship.%' THEN jsonb_build_object('relationshipId',
				coalesce(e.data -> 'relationshipId', (SELECT to_jsonb(a.entity_id) FROM audit_log a WHERE a.id = e.audit_id)))
				ELSE '{}' END
		WHERE e.contact_id = ANY($1)`, contactIDs)
	if err != nil {
		return fmt.Errorf("event: erase: %w", err)
	}
	return nil
}
