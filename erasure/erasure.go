package erasure

import (
	"context"
	"fmt"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/merge"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Scrubber is a package that keeps copies of people's values in rows not keyed by their
// contact (an import's error rows, stored idempotent responses, a sync run's errors): it
// replaces or removes what mentions them (contact.Personal.Mentions, .Patterns).
type Scrubber interface {
	ScrubTx(ctx context.Context, tx pgx.Tx, p *contact.Personal) error
}

// Service erases people. It is safe for concurrent use.
type Service struct {
	db        *db.DB
	owned     []contact.Owned
	scrubbers []Scrubber
	// Suppressions is the suppression list erasures add to.
	Suppressions *Suppressions
}

// New returns a Service over d that erases every concern's rows (owned: internal/app's Owned)
// and has the scrubbers scrub their copies; River's job rows are scrubbed too (see jobs).
func New(d *db.DB, owned []contact.Owned, scrubbers ...Scrubber) *Service {
	return &Service{db: d, owned: owned, scrubbers: append(append([]Scrubber(nil), scrubbers...), jobs{}), Suppressions: NewSuppressions(d)}
}

// Erase erases the people of the contacts in one transaction (see EraseTx).
func (s *Service) Erase(ctx context.Context, contactIDs []uuid.UUID, actor string) error {
	return s.db.RetryTx(ctx, func(tx pgx.Tx) error { return s.EraseTx(ctx, tx, contactIDs, actor) })
}

// EraseTx erases, in the caller's transaction, the people the contacts are: each contact's
// survivor and every record merged into it. Their canonical emails and phones go on the
// suppression list; every concern's rows about them go (contact.Owned.EraseTx); the merges
// involving them keep no snapshot and can no longer be undone; the copies of their values
// elsewhere are scrubbed (audit entries and events of other contacts, every Scrubber); and each
// contact becomes a tombstone (id, erased_at, erased_by) whose contact.erased event carries the
// id alone. Contacts erased already are skipped, so erasing twice is no error; an unknown id is
// KindNotFound. actor is audited as the eraser.
func (s *Service) EraseTx(ctx context.Context, tx pgx.Tx, contactIDs []uuid.UUID, actor string) error {
	if len(contactIDs) == 0 {
		return nil
	}
	ctx = contact.WithActor(ctx, actor)
	people, err := contact.PersonTx(ctx, tx, contactIDs)
	if err != nil || len(people) == 0 {
		return err
	}
	p, err := contact.PersonalTx(ctx, tx, people, s.Suppressions.region)
	if err != nil {
		return err
	}
	if err := s.Suppressions.AddTx(ctx, tx, p.Emails, p.Phones, ReasonErased, nil); err != nil {
		return err
	}
	// Other contacts' copies first: what mentions the people is found through the merges and
	// rows that still name them.
	if err := contact.ScrubAuditTx(ctx, tx, p); err != nil {
		return err
	}
	for _, sc := range s.scrubbers {
		if err := sc.ScrubTx(ctx, tx, p); err != nil {
			return err
		}
	}
	for _, o := range s.owned {
		if err := o.EraseTx(ctx, tx, people); err != nil {
			return fmt.Errorf("erasure: %s: %w", o.Name(), err)
		}
	}
	if err := merge.EraseTx(ctx, tx, people); err != nil {
		return err
	}
	return contact.EraseTx(ctx, tx, people, actor)
}
