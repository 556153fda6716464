// Package contact holds contactd's contact: its fields, declared once in the field registry
// (Fields), its validation, and the PostgreSQL store of contacts, their alternate emails and
// phones and the audit log. It defines the one extension point for data other concerns keep
// about a contact (Owned), through which merges, undos and erasure reach every concern's rows,
// and the small interfaces through which it reaches what it does not own (Related for
// relationships, Indexer for the duplicate checker's index, Refs for the external ids imports
// record, which batch writes match on).
//
// Every change it makes to a contact is audited in the same transaction, and the jobs a change
// causes are enqueued in that transaction too. It must not know about HTTP or JSON transport
// shapes (package api converts at the edge), nor import merging, deduplication, imports or
// relationships: those packages call it, never the other way round.
package contact
