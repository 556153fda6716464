package communication

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/contactd/contactd/contact"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// PurgeTx deletes every communication of the contacts ids in the caller's transaction, as
// actor, auditing each contact that had some ("purge_communications", with how many went).
// Retention policies purge through it.
func (s *Store) PurgeTx(ctx context.Context, tx pgx.Tx, ids []uuid.UUID, actor string) error {
	rows, err := tx.Query(ctx, `WITH gone AS (DELETE FROM communications WHERE contact_id = ANY($1::uuid[]) RETURNING contact_id)
		SELECT contact_id, count(*) FROM gone GROUP BY contact_id ORDER BY contact_id`, ids)
	if err != nil {
		return fmt.Errorf("communication: purge %d contacts: %w", len(ids), err)
	}
	type purged struct {
		id uuid.UUID
		n  int64
	}
	ps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (purged, error) {
		var p purged
		return p, r.Scan(&p.id, &p.n)
	})
	if err != nil {
		return fmt.Errorf("communication: purge %d contacts: %w", len(ids), err)
	}
	return contact.CopyAuditTx(ctx, tx, actor, "purge_communications", len(ps), func(i int, buf []byte) (uuid.UUID, []byte) {
		b, _ := json.Marshal(map[string]contact.Change{"communications": {Before: ps[i].n, After: 0}})
		return ps[i].id, append(buf, b...)
	})
}
