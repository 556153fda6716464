package db

import (
	"strings"

	"github.com/google/uuid"
)

// MaxListLimit bounds a page of any list.
const MaxListLimit = 500

// CheckLimit returns a KindInvalid error naming "limit" unless 0 < limit <= MaxListLimit.
func CheckLimit(limit int) error {
	if limit <= 0 || limit > MaxListLimit {
		return Invalid("limit", "must be between 1 and %d", MaxListLimit)
	}
	return nil
}

// Page cuts items (read with limit+1) to limit and returns the cursor of the next page: the id
// of the last item kept, nil on the last page.
func Page[T any](items []T, limit int, id func(T) uuid.UUID) ([]T, *uuid.UUID) {
	if len(items) <= limit {
		return items, nil
	}
	items = items[:limit]
	next := id(items[limit-1])
	return items, &next
}

// CompareUUID orders ids as PostgreSQL orders uuid values (bytewise, as their text does).
func CompareUUID(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) }

// UUIDArrayLiteral writes ids as a PostgreSQL array literal, for arrays of arrays passed as text.
func UUIDArrayLiteral(ids []uuid.UUID) string {
	var sb strings.Builder
	sb.WriteByte('{')
	for i, id := range ids {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(id.String())
	}
	sb.WriteByte('}')
	return sb.String()
}
