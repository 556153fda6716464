// Package group keeps groups of contacts (tables contact_groups and group_members): static
// groups, whose members are added and removed one by one, and smart groups, which keep a
// filter (the list endpoint's parameters, contact.Filter) evaluated live. It resolves the
// `group` filter for every user of contact.Filter (Resolve), audits every membership change in
// the transaction that makes it, and plugs memberships into merges, undos and erasure as a
// contact.Owned concern (Concern).
//
// It must not write contacts or any other package's tables.
package group
