// Package contact holds contactd's domain types (contacts, users, accounts, relationships, API
// keys, the audit log) and the PostgreSQL store that persists them. All SQL except migrations
// lives here. It must not know about HTTP or JSON transport shapes: the api package converts at
// the edge. Every change a Store makes to a contact is audited in the same transaction, and the
// jobs a change causes are enqueued in that transaction too.
package contact
