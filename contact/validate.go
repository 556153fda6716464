package contact

import (
	"cmp"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/contactd/contactd/internal/db"

	"github.com/contactd/contactd/matcher"
	"github.com/google/uuid"
)

// Bounds on what a client may store, in characters.
const (
	MaxNameLen    = 100
	MaxTitleLen   = 200
	MaxCompanyLen = 200
	// The postal address's parts.
	MaxStreetLen     = 300
	MaxCityLen       = 100
	MaxRegionLen     = 100
	MaxPostalCodeLen = 20
	MaxCountryLen    = 100
	MaxEmailLen      = 254 // RFC 5321 path limit less the angle brackets
	MaxPhoneLen      = 64
	MaxRoleLen       = 100
	MinPhoneDigit    = 4
	MaxPhoneDigit    = 20
	// MaxRelationships bounds the relationships created with one contact.
	MaxRelationships = 100
)

// CommunicationMethods are the values Preferences.CommunicationMethods may hold.
var CommunicationMethods = []string{"email", "phone", "sms", "mail", "chat"}

// CleanText trims s and checks it is valid UTF-8 without control characters and at most max
// characters long, recording a field error under field otherwise; it returns the trimmed s.
func CleanText(errs *db.FieldErrors, field, s string, max int) string {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		errs.Add(field, "must be valid UTF-8")
		return s
	}
	if n := utf8.RuneCountInString(s); n > max {
		errs.Add(field, "must be at most %d characters (got %d)", max, n)
		return s
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			errs.Add(field, "must not contain control characters")
			break
		}
	}
	return s
}

// ValidateEmail records a field error unless s is empty or a valid email address.
func ValidateEmail(errs *db.FieldErrors, field, s string) {
	if s == "" {
		return
	}
	if _, err := matcher.NormalizeEmail(s); err != nil {
		errs.Add(field, "is not a valid email address: %v", err)
	}
}

func validatePhone(errs *db.FieldErrors, field, s string) {
	if s == "" {
		return
	}
	if n := matcher.PhoneDigits(s); n < MinPhoneDigit || n > MaxPhoneDigit {
		errs.Add(field, "must have %d to %d digits (got %d)", MinPhoneDigit, MaxPhoneDigit, n)
	}
}

func validatePreferences(errs *db.FieldErrors, p *PreferencesPatch) {
	if p == nil {
		return
	}
	validatePreferenceValues(errs, p)
	if !p.CommunicationMethods.Set || p.CommunicationMethods.Null {
		return
	}
	if len(p.CommunicationMethods.Value) > len(CommunicationMethods) {
		errs.Add("preferences.communicationMethods", "must have at most %d entries", len(CommunicationMethods))
		return
	}
	seen := map[string]bool{}
	for i, m := range p.CommunicationMethods.Value {
		field := fmt.Sprintf("preferences.communicationMethods[%d]", i)
		m = strings.ToLower(strings.TrimSpace(m))
		p.CommunicationMethods.Value[i] = m
		known := false
		for _, k := range CommunicationMethods {
			known = known || k == m
		}
		switch {
		case !known:
			errs.Add(field, "must be one of %s", strings.Join(CommunicationMethods, ", "))
		case seen[m]:
			errs.Add(field, "is listed twice")
		}
		seen[m] = true
	}
}

// Validate trims the input in place and reports every invalid field.
func (n *NewContact) Validate() error {
	var errs db.FieldErrors
	for _, f := range Fields {
		v := f.input(n)
		*v = CleanText(&errs, f.Name, *v, f.MaxLen)
		switch f.Kind {
		case KindEmail:
			ValidateEmail(&errs, f.Name, *v)
		case KindPhone:
			if !n.KeepUnparseablePhone {
				validatePhone(&errs, f.Name, *v)
			}
		}
	}
	if n.FirstName == "" && n.LastName == "" && n.Email == "" && n.Phone == "" {
		errs.Add("firstName", "a contact needs a name, an email or a phone")
	}
	validatePreferences(&errs, n.Preferences)
	n.Type = strings.ToLower(strings.TrimSpace(n.Type))
	validType(&errs, "type", n.Type)
	if len(n.Relationships) > MaxRelationships {
		errs.Add("relationships", "must have at most %d entries", MaxRelationships)
	}
	for i := range n.Relationships {
		n.Relationships[i].validate(&errs, fmt.Sprintf("relationships[%d].", i))
	}
	return errs.Err()
}

func (r *NewRelationship) validate(errs *db.FieldErrors, prefix string) {
	r.EntityType = strings.ToLower(strings.TrimSpace(r.EntityType))
	typeField := prefix + cmp.Or(r.TypeField, "type")
	switch EntityType(r.EntityType) {
	case EntityUser:
		if r.IsPrimary {
			errs.Add(prefix+"isPrimary", "applies only to account relationships")
		}
	case EntityAccount:
	case "":
		errs.Add(typeField, "is required: user or account")
	default:
		errs.Add(typeField, "must be user or account")
	}
	if id, err := uuid.Parse(strings.TrimSpace(r.EntityID)); err != nil {
		errs.Add(prefix+"entityId", "must be a UUID")
	} else {
		// The canonical form, so that repeats in other spellings are caught.
		r.EntityID = id.String()
	}
	r.Role = CleanText(errs, prefix+"role", r.Role, MaxRoleLen)
	if r.EntityType == string(EntityUser) && r.Role == "" {
		r.Role = DefaultUserRelationship
	}
}

// DefaultUserRelationship is the relationship type of a user relationship given no role.
const DefaultUserRelationship = "associated"

// ValidateRelationship trims r and reports every invalid field.
func ValidateRelationship(r *NewRelationship) error {
	var errs db.FieldErrors
	r.validate(&errs, "")
	return errs.Err()
}

// Validate trims the update in place and reports every invalid field. Whether isPrimary may be
// true depends on the relationship's entity type and is checked against the stored
// relationship.
func (u *RelationshipUpdate) Validate() error {
	var errs db.FieldErrors
	if u.Role.Set && !u.Role.Null {
		u.Role.Value = CleanText(&errs, "role", u.Role.Value, MaxRoleLen)
	}
	return errs.Err()
}

// Validate trims the update in place and reports every invalid field. Whether the result
// still has a name, an email or a phone is checked against the stored contact.
func (u *Update) Validate() error {
	var errs db.FieldErrors
	for _, f := range Fields {
		o := f.update(u)
		if !o.Set || o.Null {
			continue
		}
		o.Value = CleanText(&errs, f.Name, o.Value, f.MaxLen)
		switch {
		case o.Value == "":
			// An empty string clears the field, as null does.
			o.Null = true
		case f.Kind == KindEmail:
			ValidateEmail(&errs, f.Name, o.Value)
		case f.Kind == KindPhone:
			validatePhone(&errs, f.Name, o.Value)
		}
	}
	validatePreferences(&errs, u.Preferences)
	if u.Type.Set && !u.Type.Null {
		u.Type.Value = strings.ToLower(strings.TrimSpace(u.Type.Value))
		validType(&errs, "type", u.Type.Value)
	}
	return errs.Err()
}

// Values returns the (validated) input's fields as a contact's values.
func (n *NewContact) Values() Values {
	var v Values
	for _, f := range Fields {
		*f.Ptr(&v) = Nullable(*f.input(n))
	}
	return v
}
