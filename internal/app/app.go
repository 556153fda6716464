// Package app wires contactd's domain stores together over one database: it is the one place
// that knows every store, every contact-owned concern and how they depend on each other, so
// that serve, worker, the command line and tests build the same thing. It holds no logic of its
// own.
package app

import (
	"github.com/contactd/contactd/auth"
	"github.com/contactd/contactd/communication"
	"github.com/contactd/contactd/consent"
	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/dedupe"
	"github.com/contactd/contactd/erasure"
	"github.com/contactd/contactd/event"
	"github.com/contactd/contactd/group"
	"github.com/contactd/contactd/idempotency"
	"github.com/contactd/contactd/importer"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/merge"
	"github.com/contactd/contactd/relationship"
	"github.com/contactd/contactd/retention"
	"github.com/contactd/contactd/sync/carddav"
	"github.com/contactd/contactd/sync/httpsource"
	"github.com/contactd/contactd/sync/source"
	"github.com/contactd/contactd/sync/syncengine"
	"github.com/contactd/contactd/tag"
	"github.com/contactd/contactd/webhook"
	"github.com/jackc/pgx/v5/pgxpool"
)

// App is every domain store of a process over one database.
type App struct {
	DB       *db.DB
	Contacts *contact.Store
	// Relations keeps users, accounts and contacts' relationships to them.
	Relations *relationship.Store
	Merges    *merge.Store
	Dedupe    *dedupe.Store
	Imports   *importer.Store
	Auth      *auth.Store
	// Idempotency keeps the first response to each Idempotency-Key of a POST.
	Idempotency *idempotency.Store
	// Tags keeps tags and contacts' tags.
	Tags *tag.Store
	// Groups keeps static and smart groups and resolves the group filter.
	Groups *group.Store
	// Consent keeps purposes and consent events and answers reachability.
	Consent *consent.Store
	// Communications keeps communications with contacts and builds their timelines.
	Communications *communication.Store
	// Webhooks keeps webhook subscriptions and delivers the change feed to them.
	Webhooks *webhook.Store
	// Feed is the change feed.
	Feed *event.Feed
	// Engine checks contacts for duplicates and merges what it is sure of.
	Engine *dedupe.Engine
	// Sources keeps external sync's sources, runs and links; Sync runs them.
	Sources *source.Store
	Sync    *syncengine.Engine
	// Retention keeps retention policies and runs them; erase policies erase through the
	// eraser set with Retention.SetEraser.
	Retention *retention.Store
	// Owned are the concerns whose contact-owned rows merges, undos and erasure carry.
	Owned []contact.Owned
	// Erasure erases people (Art. 17) and keeps the suppression list imports, sync and creates
	// consult.
	Erasure *erasure.Service
}

// New wires every store over pool, whose database must be migrated. extra concerns are
// carried by merges after the built-in ones (tests register throwaway ones).
func New(pool *pgxpool.Pool, extra ...contact.Owned) (*App, error) {
	d, err := db.New(pool)
	if err != nil {
		return nil, err
	}
	a := &App{DB: d, Contacts: contact.NewStore(d), Relations: relationship.NewStore(d), Dedupe: dedupe.NewStore(d), Imports: importer.NewStore(d), Auth: auth.NewStore(d), Idempotency: idempotency.NewStore(d), Consent: consent.NewStore(d),
		Webhooks: webhook.NewStore(d), Feed: event.NewFeed(d)}
	a.Communications = communication.NewStore(d, a.Contacts)
	a.Contacts.SetRelated(a.Relations)
	a.Retention = retention.NewStore(d, a.Communications)
	// Batch writes match items on the external references imports record.
	a.Contacts.SetRefs(a.Imports)
	a.Tags = tag.NewStore(d)
	a.Contacts.SetTagger(a.Tags)
	a.Imports.SetTagger(a.Tags)
	a.Groups = group.NewStore(d)
	// A normalized contact is rekeyed and checked for duplicates.
	a.Contacts.SetIndex(a.Dedupe)
	// Secrets are sealed with no key until the binary sets one (SetSealer).
	a.Sources = source.NewStore(d, nil, map[string]source.Type{"http": httpsource.Type{}, "carddav": carddav.Type{}})
	a.Owned = append([]contact.Owned{relationship.Concern, tag.Concern, group.Concern, importer.ExternalRefs,
		a.Dedupe.Reviews(), a.Dedupe.Keys(), a.Sources.Links(), a.Consent.Concern(), communication.Concern, event.Concern}, extra...)
	a.Merges = merge.NewStore(d, a.Contacts, a.Owned...)
	a.Engine = &dedupe.Engine{Store: a.Dedupe, Contacts: a.Contacts, Merger: a.Merges}
	a.Sync = &syncengine.Engine{Sources: a.Sources, Matcher: a.Engine, Tags: a.Tags,
		Connectors: map[string]syncengine.NewConnector{"http": httpsource.New, "carddav": carddav.New}}
	// Erasure reaches every concern, the merges, and the copies kept outside contact-owned rows.
	a.Erasure = erasure.New(d, a.Owned, a.Imports, a.Idempotency, a.Sources, a.Dedupe, event.Scrubber{}, contact.SearchTerms{})
	a.SetDefaultRegion("US")
	a.Imports.SetSuppressor(a.Erasure.Suppressions)
	a.Consent.SetSuppressor(a.Erasure.Suppressions)
	a.Sync.Suppressor = a.Erasure.Suppressions
	a.Retention.SetEraser(a.Erasure)
	return a, nil
}

// SetDefaultRegion sets the region phones without a country code are read in when they are
// checked against the suppression list (creates, sync) or put on it.
func (a *App) SetDefaultRegion(region string) {
	a.Contacts.SetSuppressor(a.Erasure.Suppressions, region)
	a.Erasure.Suppressions.SetDefaultRegion(region)
	a.Sync.DefaultRegion = region
}
