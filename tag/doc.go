// Package tag keeps contacts' tags: free labels, case-insensitive and trimmed, each kept in the
// spelling first used (tables tags and contact_tags). It adds, removes, renames (merging into
// an existing tag) and deletes tags, one contact at a time or in bulk over a contact.Filter,
// auditing every contact it changes in the same transaction. A contact's tags follow it through
// merges (the survivor gets the union) and undos as a contact.Owned concern (Concern), and the
// contact store sets and shows them through contact.Tagger.
//
// It must not write contacts or any other package's tables; it reads contacts only to select
// them (contact.Filter) and to lock them (contact.Require).
package tag
