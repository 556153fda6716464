package idempotency

import (
	"context"
	"fmt"

	"github.com/contactd/contactd/contact"
	"github.com/jackc/pgx/v5"
)

// erasedBody is the problem document a stored response about an erased person becomes.
const erasedBody = `{"type":"https://contactd.dev/problems/gone","title":"Gone","status":410,` +
	`"detail":"the response to this request was about a person since erased; it is not kept"}`

// ScrubTx replaces every stored response that mentions the people (their contact ids, emails,
// phones or names) by a 410 problem document, so that a replay of the request answers that the
// person was erased rather than their data. The key itself stays until it expires, so a repeat
// is still not done twice. It scans the keys of the last day (TTL).
func (s *Store) ScrubTx(ctx context.Context, tx pgx.Tx, p *contact.Personal) error {
	_, err := tx.Exec(ctx, `UPDATE idempotency_keys SET status = 410,
			headers = '{"Content-Type": "application/problem+json"}', body = convert_to($2, 'UTF8')
		WHERE body IS NOT NULL AND (convert_from(body, 'UTF8') ~* ANY($1) OR headers::text ~* ANY($1))`,
		p.Patterns(), erasedBody)
	if err != nil {
		return fmt.Errorf("idempotency: scrub responses: %w", err)
	}
	return nil
}
