package contact

import (
	"github.com/contactd/contactd/internal/db"
)

// ContactType is what kind of contact a contact is (the seed's Contact Types).
type ContactType string

// The contact types.
const (
	// TypeBusiness is a contact of the business at large: it relates to no account and no user.
	TypeBusiness ContactType = "business"
	// TypeUser is a contact related to one of the business's users (an owner, an assistant).
	TypeUser ContactType = "user"
	// TypeAccount is a contact at a customer account.
	TypeAccount ContactType = "account"
)

// ContactTypes are the contact types, in the order the API documents them.
var ContactTypes = []ContactType{TypeBusiness, TypeUser, TypeAccount}

// Type is the contact's type: the explicit one when set, else derived from its current
// relationships (filled by Get and List): a contact related to an account is an account
// contact (the account says more about who it is than the user who owns it), else one related
// to a user is a user contact, else a business contact. TypeSQL is the same rule in SQL.
func (c *Contact) Type() ContactType {
	if c.ExplicitType != nil {
		return *c.ExplicitType
	}
	t := TypeBusiness
	for _, r := range c.Relationships {
		if r.RemovedAt != nil {
			continue
		}
		switch r.EntityType {
		case EntityAccount:
			return TypeAccount
		case EntityUser:
			t = TypeUser
		}
	}
	return t
}

// TypeSQL is Contact.Type as a SQL expression on contacts c.
const TypeSQL = `coalesce(c.contact_type, CASE
	WHEN EXISTS (SELECT 1 FROM contact_accounts ta WHERE ta.contact_id = c.id AND ta.removed_at IS NULL) THEN 'account'
	WHEN EXISTS (SELECT 1 FROM contact_users tu WHERE tu.contact_id = c.id AND tu.removed_at IS NULL) THEN 'user'
	ELSE 'business' END)`

// validType records a field error unless t is "" or a contact type.
func validType(errs *db.FieldErrors, field, t string) {
	if t == "" {
		return
	}
	for _, k := range ContactTypes {
		if string(k) == t {
			return
		}
	}
	errs.Add(field, "must be business, user or account")
}

func typeValue(t *ContactType) any {
	if t == nil {
		return nil
	}
	return string(*t)
}

func typePtr(t string) *ContactType {
	if t == "" {
		return nil
	}
	ct := ContactType(t)
	return &ct
}
