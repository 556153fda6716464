package importer

import (
	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/riverqueue/river"
)

// Store keeps imports (imports, import_chunks, import_errors) and the contacts' external
// references (external_refs), and writes imported contacts through package contact. It is safe
// for concurrent use.
type Store struct {
	db *db.DB
	// suppressed says which new contacts are suppressed people (SetSuppressor).
	suppressed contact.Suppressor
	// tagger gives imported contacts their tags (package tag); see SetTagger.
	tagger Tagger
}

// NewStore returns a Store over d.
func NewStore(d *db.DB) *Store { return &Store{db: d} }

// SetSuppressor has imports check the rows that would create a contact against the
// suppression list: a suppressed person's row is an error row (reason "suppressed").
func (s *Store) SetSuppressor(sp contact.Suppressor) { s.suppressed = sp }

// ExternalRefs is the contact.Owned concern of external references: each is one contact's
// identity in a source, and follows its contact into a merge and back out of an undo.
var ExternalRefs contact.Owned = contact.MovedRows{
	Concern: "externalRefs", Table: "external_refs", Column: "contact_id", Key: []string{"source", "external_id"},
}

// Args asks for an uploaded import to be run (or resumed from its committed progress).
type Args struct {
	ImportID uuid.UUID `json:"import_id" river:"unique"`
}

// Kind is the job's stable kind name.
func (Args) Kind() string { return "import_file" }

// InsertOpts makes the job unique per import while it waits or runs; retries resume it.
func (Args) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: db.QueueBulk, MaxAttempts: 5, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}
