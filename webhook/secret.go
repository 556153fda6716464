package webhook

import (
	"context"
	"fmt"

	"github.com/contactd/contactd/internal/secret"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// SetSealer sets the key webhook secrets are sealed with (the binary sets it from
// CONTACTD_SECRET_KEY). With none, secrets are stored as they are.
func (s *Store) SetSealer(sealer *secret.Sealer) { s.sealer = sealer }

// Sealed reports whether new secrets are stored sealed.
func (s *Store) Sealed() bool { return s.sealer != nil }

// storedSecret returns the columns (secret, secret_sealed) that store a webhook's secret:
// sealed and bound to the webhook's id when there is a key, plain otherwise.
func (s *Store) storedSecret(id uuid.UUID, plain string) (*string, []byte, error) {
	if s.sealer == nil {
		return &plain, nil, nil
	}
	sealed, err := s.sealer.Seal(id[:], []byte(plain))
	if err != nil {
		return nil, nil, fmt.Errorf("webhook: seal secret: %w", err)
	}
	return nil, sealed, nil
}

// openSecret returns a webhook's secret from its stored columns.
func (s *Store) openSecret(id uuid.UUID, plain *string, sealed []byte) (string, error) {
	if plain != nil {
		return *plain, nil
	}
	b, err := s.sealer.Open(id[:], sealed)
	if err != nil {
		return "", fmt.Errorf("webhook %s: open its secret: %w", id, err)
	}
	return string(b), nil
}

// SealPlain seals the secrets stored plain (written before the server had a key, or before
// secrets were sealed) and returns how many it sealed. Without a key it does nothing.
func (s *Store) SealPlain(ctx context.Context) (int, error) {
	if s.sealer == nil {
		return 0, nil
	}
	n := 0
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, secret FROM webhooks WHERE secret IS NOT NULL FOR UPDATE`)
		if err != nil {
			return err
		}
		type plainRow struct {
			id     uuid.UUID
			secret string
		}
		plain, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (plainRow, error) {
			var p plainRow
			return p, r.Scan(&p.id, &p.secret)
		})
		if err != nil {
			return err
		}
		for _, p := range plain {
			sealed, err := s.sealer.Seal(p.id[:], []byte(p.secret))
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE webhooks SET secret = NULL, secret_sealed = $2 WHERE id = $1`, p.id, sealed); err != nil {
				return err
			}
		}
		n = len(plain)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("webhook: seal plain secrets: %w", err)
	}
	return n, nil
}
