package idempotency

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/contactd/contactd/contact"
	"github.com/jackc/pgx/v5"
)

// erasedBody is the problem document a stored response about an erased person becomes.
const erasedBody = `{"type":"https://contactd.dev/problems/gone","title":"Gone","status":410,` +
	`"detail":"the response to this request was about a person since erased; it is not kept"}`

// ScrubTx replaces every stored response that mentions the people (their contact ids, emails,
// phones or names) by a 410 problem document, so that a replay of the request answers that the
// person was erased rather than their data. The key itself stays until it expires, so a repeat
// is still not done twice. The responses are found through the trigram index on their text
// (responseTextSQL), then contact.Personal.Mentions decides on each.
func (s *Store) ScrubTx(ctx context.Context, tx pgx.Tx, p *contact.Personal) error {
	pats := p.LikePatterns()
	if len(pats) == 0 {
		return nil
	}
	var keyIDs []uuid.UUID
	var keys []string
	var (
		keyID        uuid.UUID
		key, headers string
		body         *string
	)
	err := contact.TextHitsTx(ctx, tx, "idempotency_keys", responseTextSQL,
		"t.api_key_id, t.key, convert_from(t.body, 'UTF8') AS body, t.headers::text AS headers", pats,
		[]any{&keyID, &key, &body, &headers}, func() error {
			if (body != nil && p.Mentions(*body)) || p.Mentions(headers) {
				keyIDs, keys = append(keyIDs, keyID), append(keys, key)
			}
			return nil
		})
	if err != nil {
		return fmt.Errorf("idempotency: scrub responses: %w", err)
	}
	if len(keys) == 0 {
		return nil
	}
	_, err = tx.Exec(ctx, `UPDATE idempotency_keys k SET status = 410,
			headers = '{"Content-Type": "application/problem+json"}', body = convert_to($3, 'UTF8')
		FROM unnest($1::uuid[], $2::text[]) AS u(a, k) WHERE k.api_key_id = u.a AND k.key = u.k AND k.body IS NOT NULL`,
		keyIDs, keys, erasedBody)
	if err != nil {
		return fmt.Errorf("idempotency: scrub responses: %w", err)
	}
	return nil
}

// responseTextSQL is the text of a stored response (as t) that erasure looks in; its trigram
// index is idempotency_keys_text_trgm_idx.
const responseTextSQL = `(coalesce(response_text(t.body), '') || ' ' || t.headers::text)`
