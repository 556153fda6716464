package contact

import (
	"cmp"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/contactd/contactd/matcher"
	"github.com/google/uuid"
)

// Bounds on what a client may store, in characters.
const (
	MaxNameLen    = 100
	MaxTitleLen   = 200
	MaxCompanyLen = 200
	MaxEmailLen   = 254 // RFC 5321 path limit less the angle brackets
	MaxPhoneLen   = 64
	MaxRoleLen    = 100
	MinPhoneDigit = 4
	MaxPhoneDigit = 20
	// MaxRelationships bounds the relationships created with one contact.
	MaxRelationships = 100
)

// CommunicationMethods are the values Preferences.CommunicationMethods may hold.
var CommunicationMethods = []string{"email", "phone", "sms", "mail", "chat"}

// cleanText trims s and checks it is valid UTF-8 without control characters and at most max
// characters long; it records a field error otherwise.
func cleanText(errs *fieldErrors, field, s string, max int) string {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		errs.add(field, "must be valid UTF-8")
		return s
	}
	if n := utf8.RuneCountInString(s); n > max {
		errs.add(field, "must be at most %d characters (got %d)", max, n)
		return s
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			errs.add(field, "must not contain control characters")
			break
		}
	}
	return s
}

func validateEmail(errs *fieldErrors, field, s string) {
	if s == "" {
		return
	}
	if _, err := matcher.NormalizeEmail(s); err != nil {
		errs.add(field, "is not a valid email address: %v", err)
	}
}

func validatePhone(errs *fieldErrors, field, s string) {
	if s == "" {
		return
	}
	if n := matcher.PhoneDigits(s); n < MinPhoneDigit || n > MaxPhoneDigit {
		errs.add(field, "must have %d to %d digits (got %d)", MinPhoneDigit, MaxPhoneDigit, n)
	}
}

func validatePreferences(errs *fieldErrors, p *PreferencesPatch) {
	if p == nil || !p.CommunicationMethods.Set || p.CommunicationMethods.Null {
		return
	}
	if len(p.CommunicationMethods.Value) > len(CommunicationMethods) {
		errs.add("preferences.communicationMethods", "must have at most %d entries", len(CommunicationMethods))
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
			errs.add(field, "must be one of %s", strings.Join(CommunicationMethods, ", "))
		case seen[m]:
			errs.add(field, "is listed twice")
		}
		seen[m] = true
	}
}

// Validate trims the input in place and reports every invalid field.
func (n *NewContact) Validate() error {
	var errs fieldErrors
	n.FirstName = cleanText(&errs, "firstName", n.FirstName, MaxNameLen)
	n.LastName = cleanText(&errs, "lastName", n.LastName, MaxNameLen)
	n.Email = cleanText(&errs, "email", n.Email, MaxEmailLen)
	n.Phone = cleanText(&errs, "phone", n.Phone, MaxPhoneLen)
	n.Title = cleanText(&errs, "title", n.Title, MaxTitleLen)
	n.Company = cleanText(&errs, "company", n.Company, MaxCompanyLen)
	validateEmail(&errs, "email", n.Email)
	if !n.KeepUnparseablePhone {
		validatePhone(&errs, "phone", n.Phone)
	}
	if n.FirstName == "" && n.LastName == "" && n.Email == "" && n.Phone == "" {
		errs.add("firstName", "a contact needs a name, an email or a phone")
	}
	validatePreferences(&errs, n.Preferences)
	if len(n.Relationships) > MaxRelationships {
		errs.add("relationships", "must have at most %d entries", MaxRelationships)
	}
	for i := range n.Relationships {
		n.Relationships[i].validate(&errs, fmt.Sprintf("relationships[%d].", i))
	}
	return errs.err()
}

func (r *NewRelationship) validate(errs *fieldErrors, prefix string) {
	r.EntityType = strings.ToLower(strings.TrimSpace(r.EntityType))
	typeField := prefix + cmp.Or(r.TypeField, "type")
	switch EntityType(r.EntityType) {
	case EntityUser:
		if r.IsPrimary {
			errs.add(prefix+"isPrimary", "applies only to account relationships")
		}
	case EntityAccount:
	case "":
		errs.add(typeField, "is required: user or account")
	default:
		errs.add(typeField, "must be user or account")
	}
	if id, err := uuid.Parse(strings.TrimSpace(r.EntityID)); err != nil {
		errs.add(prefix+"entityId", "must be a UUID")
	} else {
		// The canonical form, so that repeats in other spellings are caught.
		r.EntityID = id.String()
	}
	r.Role = cleanText(errs, prefix+"role", r.Role, MaxRoleLen)
	if r.EntityType == string(EntityUser) && r.Role == "" {
		r.Role = DefaultUserRelationship
	}
}

// DefaultUserRelationship is the relationship type of a user relationship given no role.
const DefaultUserRelationship = "associated"

// ValidateRelationship trims r and reports every invalid field.
func ValidateRelationship(r *NewRelationship) error {
	var errs fieldErrors
	r.validate(&errs, "")
	return errs.err()
}

// Validate trims the update in place and reports every invalid field. Whether isPrimary may be
// true depends on the relationship's entity type and is checked against the stored
// relationship.
func (u *RelationshipUpdate) Validate() error {
	var errs fieldErrors
	if u.Role.Set && !u.Role.Null {
		u.Role.Value = cleanText(&errs, "role", u.Role.Value, MaxRoleLen)
	}
	return errs.err()
}

// Validate trims the update in place and reports every invalid field. Whether the result
// still has a name, an email or a phone is checked against the stored contact.
func (u *Update) Validate() error {
	var errs fieldErrors
	for _, f := range u.textFields() {
		if f.opt.Set && !f.opt.Null {
			f.opt.Value = cleanText(&errs, f.name, f.opt.Value, f.max)
			if f.opt.Value == "" {
				// An empty string clears the field, as null does.
				f.opt.Null = true
			}
		}
	}
	if u.Email.Set && !u.Email.Null {
		validateEmail(&errs, "email", u.Email.Value)
	}
	if u.Phone.Set && !u.Phone.Null {
		validatePhone(&errs, "phone", u.Phone.Value)
	}
	validatePreferences(&errs, u.Preferences)
	return errs.err()
}

type textField struct {
	name   string
	column string
	max    int
	opt    *Opt[string]
}

func (u *Update) textFields() []textField {
	return []textField{
		{"firstName", "first_name", MaxNameLen, &u.FirstName},
		{"lastName", "last_name", MaxNameLen, &u.LastName},
		{"email", "email", MaxEmailLen, &u.Email},
		{"phone", "phone", MaxPhoneLen, &u.Phone},
		{"title", "title", MaxTitleLen, &u.Title},
		{"company", "company", MaxCompanyLen, &u.Company},
	}
}
