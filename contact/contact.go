package contact

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/google/uuid"
)

// Status is a contact's lifecycle state.
type Status string

// The contact statuses. Archived contacts are listed only when asked for; merged ones (a later
// capability) point at their survivor.
const (
	StatusActive   Status = "active"
	StatusArchived Status = "archived"
	StatusMerged   Status = "merged"
	// StatusErased is a tombstone: the person's data was erased (Art. 17); only the id, when
	// and by whom remain.
	StatusErased Status = "erased"
)

// Contact is a person in the CRM with the forms the normalize job derived from it.
type Contact struct {
	ID uuid.UUID
	// Values are the contact's own fields (see Fields).
	Values
	Status      Status
	Preferences Preferences
	Version     int64
	Normalized  Normalized
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// MergedInto is, for a merged contact, the contact it was merged into. GetContact follows
	// chains of merges and answers the active contact at their end.
	MergedInto *uuid.UUID
	// Relationships are the contact's current relationships (filled by Get and List).
	Relationships []Relationship
	// Tags are the contact's tags in name order (filled by Create, Get, Update and List).
	Tags []string
	// Custom are the contact's custom field values by key (see CustomField).
	Custom CustomValues
	// Extra is what imports kept that maps to no field: unknown columns by name.
	Extra map[string]any
	// ExplicitType is the contact's type when set; nil derives it (see Contact.Type).
	ExplicitType *ContactType
}

// Preferences are a contact's communication preferences.
type Preferences struct {
	CommunicationMethods []string      `json:"communicationMethods"`
	Notifications        Notifications `json:"notifications"`
	// Frequency is how often the contact wants non-service messages (one of Frequencies); nil
	// means never said.
	Frequency *string `json:"frequency,omitempty"`
	// TimeZone is the contact's IANA time zone; quiet hours are in it (UTC when nil).
	TimeZone *string `json:"timeZone,omitempty"`
	// QuietHours is when the contact must not be reached, in its time zone.
	QuietHours *QuietHours `json:"quietHours,omitempty"`
}

// QuietHours is a daily window, "HH:MM" to "HH:MM" (24-hour clock), that may span midnight:
// {Start: "21:00", End: "08:00"} is the night.
type QuietHours struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// Notifications are a contact's notification flags; nil means never set.
type Notifications struct {
	Email *bool `json:"email,omitempty"`
	SMS   *bool `json:"sms,omitempty"`
}

// Normalized holds the derived, comparable forms of a contact's email and phone.
type Normalized struct {
	Email          *string
	Phone          *string // E.164
	PhoneExtension *string
	PhoneValid     *bool
	At             *time.Time // when the normalize job last wrote them
}

// EntityType names what a relationship points at.
type EntityType string

// The entity types a contact can be related to.
const (
	EntityUser    EntityType = "user"
	EntityAccount EntityType = "account"
)

// Relationship links a contact to a user (Role is the relationship type) or an account.
type Relationship struct {
	ID         uuid.UUID
	ContactID  uuid.UUID
	EntityType EntityType
	EntityID   uuid.UUID
	Role       string
	IsPrimary  bool
	CreatedAt  time.Time
	RemovedAt  *time.Time
}

// NewContact is the input for creating a contact.
type NewContact struct {
	FirstName, LastName, Email, Phone, Title, Company string
	// Street, City, Region, PostalCode and Country are the postal address.
	Street, City, Region, PostalCode, Country string
	Preferences                               *PreferencesPatch
	Relationships                             []NewRelationship
	// Tags are the contact's tags, cleaned by the Tagger's rules (package tag).
	Tags []string
	// Custom are the contact's custom field values by key, validated against the definitions
	// when the contact is written.
	Custom CustomInput
	// Type sets the contact's type explicitly ("" derives it).
	Type string
	// AllowDuplicate creates the contact even when an active contact has the same normalized email.
	AllowDuplicate bool
	// KeepUnparseablePhone accepts a phone without 4 to 20 digits (it is stored and flagged
	// invalid) instead of rejecting the contact: imports keep what they were sent.
	KeepUnparseablePhone bool
	// Consented, when set, records a new consent event the create carries, in its transaction,
	// for the new contact: it lets a person on the suppression list be created again (it also
	// takes them off the list).
	Consented func(ctx context.Context, tx pgx.Tx, c *Contact) error
	// suppressionChecked says a batch checked the suppression list for the item already;
	// suppressed is its answer.
	suppressionChecked, suppressed bool
}

// NewRelationship is the input for relating a contact to a user or an account.
type NewRelationship struct {
	EntityType string
	EntityID   string
	Role       string
	IsPrimary  bool
	// TypeField is the name the input gave EntityType under, which errors about it name:
	// "type" (when empty) or its synonym "entityType".
	TypeField string
}

// RelationshipUpdate changes a current relationship: fields not Set are kept. A null or empty
// Role clears an account relationship's role and gives a user relationship the default type; a
// null IsPrimary is false.
type RelationshipUpdate struct {
	Role      Opt[string]
	IsPrimary Opt[bool]
}

// Opt is an optional, nullable value in a partial update: Set says the field was present,
// Null that it was present as null (clear it), otherwise Value is the new value.
type Opt[T any] struct {
	Set   bool
	Null  bool
	Value T
}

// Some returns a present, non-null Opt.
func Some[T any](v T) Opt[T] { return Opt[T]{Set: true, Value: v} }

// Update is a partial update of a contact: fields not Set are kept.
type Update struct {
	FirstName, LastName, Email, Phone, Title, Company Opt[string]
	// Street, City, Region, PostalCode and Country are the postal address's parts.
	Street, City, Region, PostalCode, Country Opt[string]
	// Preferences merge into the stored ones; nil keeps them.
	Preferences *PreferencesPatch
	// Tags, when Set, replace the contact's tags (null or empty removes them all).
	Tags Opt[[]string]
	// Custom changes the custom field values it has keys for (a nil value removes one); the
	// others are kept. Validated against the definitions when written.
	Custom CustomInput
	// Type, when Set, sets the contact's type; Null (or "") derives it again.
	Type Opt[string]
	// IfVersion, when non-zero, makes the update fail with KindPreconditionFailed unless the
	// contact is at that version.
	IfVersion int64
	// AllowDuplicate changes the email even when another active contact has the same
	// normalized email.
	AllowDuplicate bool
}

// PreferencesPatch is a partial update of Preferences.
type PreferencesPatch struct {
	CommunicationMethods Opt[[]string]
	NotifyEmail          Opt[bool]
	NotifySMS            Opt[bool]
	Frequency            Opt[string]
	TimeZone             Opt[string]
	QuietHours           Opt[QuietHours]
}
