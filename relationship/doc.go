// Package relationship keeps what contacts relate to (CRM users and company accounts) and the
// contacts' relationships to them, with their history: at most one current relationship per
// contact and account (or user and type), at most one primary contact per account. Its rows
// belong to contacts, so it plugs into merges, undos and erasure as a contact.Owned concern
// (Concern), and hands the contact store the relationships it shows (contact.Related). The
// relationship types and their validation are package contact's; this package must not write
// contacts.
package relationship
