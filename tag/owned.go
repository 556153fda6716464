package tag

import "github.com/contactd/contactd/contact"

// Concern is the contact.Owned concern of contacts' tags (table contact_tags): a merge gives
// the survivor the union of its contacts' tags and takes them off the merged contacts; an undo
// gives the merged contacts their tags back (those not deleted since) and takes off the
// survivor the ones the merge added.
var Concern contact.Owned = contact.UnionRows{Concern: "tags", Table: "contact_tags", Column: "contact_id", Other: "tag_id", Parent: "tags"}
