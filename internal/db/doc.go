// Package db is the database layer every domain store shares: the pool with an insert-only River
// client (so a change and its jobs commit together), transactions with retry on serialization
// failures and deadlocks, pgx codecs, paging helpers, and the domain error kinds the API maps to
// HTTP statuses. It owns no table and knows no domain: each domain package (contact, merge,
// dedupe, importer, auth, ...) keeps its own SQL over it.
package db
