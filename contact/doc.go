// Package contact holds contactd's contact: its fields, declared once in the field registry
// (Fields), its validation, and the PostgreSQL store of contacts, users, accounts,
// relationships, the contacts' match data (alternate emails and phones, blocking keys) and the
// audit log. It also defines the one extension point for data other concerns keep about a
// contact (Owned), through which merges, undos and erasure reach every concern's rows.
//
// Every change it makes to a contact is audited in the same transaction, and the jobs a change
// causes are enqueued in that transaction too. It must not know about HTTP or JSON transport
// shapes (package api converts at the edge), nor about merging, deduplication or imports: those
// packages call it, never the other way round.
package contact
