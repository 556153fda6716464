package contact

import (
	"context"
	"errors"

	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Store persists contacts, users, accounts, relationships, the contacts' match data (alternate
// emails and phones, blocking keys) and the audit log in PostgreSQL. It is safe for concurrent
// use.
type Store struct {
	db *db.DB
	// index keeps the duplicate checker's index in step with normalized contacts; nil keeps
	// none (see SetIndex).
	index Indexer
	// related adds and reads contacts' relationships (package relationship); see SetRelated.
	related Related
	// refs resolves and records external references (package importer); see SetRefs.
	refs Refs
	// tagger sets and reads contacts' tags (package tag); see SetTagger.
	tagger Tagger
	// suppressor refuses creates of suppressed people (package erasure); see SetSuppressor.
	suppressor Suppressor
	region     string
}

// SetSuppressor has creates (one or in a batch) of a person on the suppression list fail with
// KindSuppressed unless they carry a new consent (NewContact.Consented). defaultRegion reads
// phones without a country code.
func (s *Store) SetSuppressor(sp Suppressor, defaultRegion string) {
	s.suppressor, s.region = sp, defaultRegion
}

// Tagger sets and reads contacts' tags, which package tag owns: the contact store sets a
// contact's tags in the transaction that creates or updates it and shows every contact's tags.
type Tagger interface {
	// SetTx replaces the contact's tags with tags (already cleaned) in tx, auditing the change
	// in a, and reports whether anything changed.
	SetTx(ctx context.Context, tx pgx.Tx, a *Audit, contactID uuid.UUID, tags []string) (bool, error)
	// TagsOf returns the contacts' tags by contact id, read through q (the pool when nil).
	TagsOf(ctx context.Context, q db.Querier, ids []uuid.UUID) (map[uuid.UUID][]string, error)
}

// Related adds and reads contacts' relationships, which package relationship owns: the contact
// store adds a new contact's relationships in its transaction and shows every contact's current
// ones.
type Related interface {
	// AddTx inserts a contact's validated relationships in tx, auditing them in a, naming wrong
	// ones under prefix[i].
	AddTx(ctx context.Context, tx pgx.Tx, a *Audit, contactID uuid.UUID, in []NewRelationship, prefix string) ([]Relationship, error)
	// CurrentOf returns the contacts' current relationships as q (the pool or a transaction)
	// sees them, by contact id.
	CurrentOf(ctx context.Context, q db.Querier, ids []uuid.UUID) (map[uuid.UUID][]Relationship, error)
}

// Indexer keeps the duplicate checker's index (its blocking keys) in step with the contacts
// and checks them. The contact package does not know the checker (package dedupe depends on
// it, not the other way round), so the checker hands the store this when the process is wired
// (internal/app).
type Indexer interface {
	// ReindexTx rewrites the contact's keys from c (its values as tx sees them) and, when it
	// is active, enqueues its duplicate check, in tx.
	ReindexTx(ctx context.Context, tx pgx.Tx, c *Contact) error
}

// NewStore returns a Store over d. The database must be migrated.
func NewStore(d *db.DB) *Store { return &Store{db: d} }

// SetRelated sets where the store adds and reads relationships. Call it once, before the store
// is used; without it contacts have none and cannot be created with any.
func (s *Store) SetRelated(r Related) { s.related = r }

// SetTagger sets where the store sets and reads tags. Call it once, before the store is used;
// without it contacts have none and cannot be given any.
func (s *Store) SetTagger(t Tagger) { s.tagger = t }

// setTags replaces a contact's tags through the Tagger.
func (s *Store) setTags(ctx context.Context, tx pgx.Tx, a *Audit, id uuid.UUID, tags []string) (bool, error) {
	if s.tagger == nil {
		if len(tags) == 0 {
			return false, nil
		}
		return false, errors.New("contact: no tag store wired (SetTagger)")
	}
	return s.tagger.SetTx(ctx, tx, a, id, tags)
}

// fillTags sets the contacts' Tags through the Tagger.
func (s *Store) fillTags(ctx context.Context, q db.Querier, cs ...*Contact) error {
	if s.tagger == nil || len(cs) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	tags, err := s.tagger.TagsOf(ctx, q, ids)
	if err != nil {
		return err
	}
	for _, c := range cs {
		c.Tags = tags[c.ID]
	}
	return nil
}

// SetIndex sets the index Normalize keeps in step. Call it once, before the store is used.
func (s *Store) SetIndex(i Indexer) { s.index = i }

// DB returns the database the store works on.
func (s *Store) DB() *db.DB { return s.db }

type actorKey struct{}

// WithActor returns a context whose changes are audited as made by actor (for example
// "apikey:<id>" or "job:normalize_contact").
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFrom returns the actor WithActor stored in ctx, or "system".
func ActorFrom(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	return "system"
}
