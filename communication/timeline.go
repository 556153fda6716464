package communication

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
)

// The types of timeline items.
const (
	TypeCommunication = "communication"
	TypeChange        = "change"       // a contact's fields: created, updated, archived, normalized
	TypeRelationship  = "relationship" // a relationship created, changed or ended
	TypeConsent       = "consent"      // a consent event
	TypeMerge         = "merge"
	TypeUndo          = "undo"
)

// Item is one entry of a timeline: a communication or an audited change.
type Item struct {
	Type string
	At   time.Time
	// Key orders items at the same time and is the cursor's: "c:<id>" for a communication,
	// "a:<zero-padded audit id>" for an audit entry.
	Key           string
	Communication *Communication
	Audit         *contact.AuditEntry
}

// Timeline returns a contact's timeline, newest first: its communications (its survivor's, when
// merged) and its audit trail (that of every contact merged into it too: field changes,
// relationship and consent events, merges and undos), at most limit after cursor, and the
// cursor of the next page (nil at the end).
func (s *Store) Timeline(ctx context.Context, contactID uuid.UUID, after *Cursor, limit int) ([]Item, *Cursor, error) {
	if err := db.CheckLimit(limit); err != nil {
		return nil, nil, err
	}
	if after != nil && !strings.HasPrefix(after.ID, "c:") && !strings.HasPrefix(after.ID, "a:") {
		return nil, nil, db.Invalid("cursor", "is not a cursor this endpoint gave")
	}
	root, err := s.root(ctx, contactID)
	if err != nil {
		return nil, nil, err
	}
	// Each source's next limit+1 items after the cursor; merged, the first limit+1 are the page.
	var commAfter *Cursor
	var auditAt *time.Time
	auditID := int64(math.MaxInt64)
	if after != nil {
		at := after.At
		auditAt = &at
		if id, ok := strings.CutPrefix(after.ID, "c:"); ok {
			commAfter = &Cursor{At: at, ID: id}
		} else {
			// Communications sort before audit entries at the same time: they were all shown.
			commAfter = &Cursor{At: at, ID: uuid.Nil.String()}
			n, err := strconv.ParseInt(strings.TrimPrefix(after.ID, "a:"), 10, 64)
			if err != nil {
				return nil, nil, db.Invalid("cursor", "is not a cursor this endpoint gave")
			}
			auditID = n
		}
	}
	comms, err := s.list(ctx, root, commAfter, limit+1)
	if err != nil {
		return nil, nil, err
	}
	entries, err := s.contacts.AuditTrailNewest(ctx, root, auditAt, auditID, limit+1, []string{"communication"})
	if err != nil {
		return nil, nil, err
	}
	items := make([]Item, 0, limit+1)
	for len(items) <= limit && (len(comms) > 0 || len(entries) > 0) {
		takeComm := len(entries) == 0 || (len(comms) > 0 && !comms[0].OccurredAt.Before(entries[0].At))
		if takeComm {
			c := comms[0]
			comms = comms[1:]
			items = append(items, Item{Type: TypeCommunication, At: c.OccurredAt, Key: "c:" + c.ID.String(), Communication: &c})
			continue
		}
		e := entries[0]
		entries = entries[1:]
		items = append(items, Item{Type: auditType(&e), At: e.At, Key: fmt.Sprintf("a:%019d", e.ID), Audit: &e})
	}
	var next *Cursor
	if len(items) > limit {
		items = items[:limit]
		last := items[limit-1]
		next = &Cursor{At: last.At, ID: last.Key}
	}
	return items, next, nil
}

func auditType(e *contact.AuditEntry) string {
	switch {
	case e.Action == "merge":
		return TypeMerge
	case e.Action == "unmerge":
		return TypeUndo
	case e.EntityType == "consent_event":
		return TypeConsent
	case e.EntityType == "relationship":
		return TypeRelationship
	}
	return TypeChange
}
