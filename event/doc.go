// Package event is contactd's outbox and change feed: the events table, written in the
// transaction of the change that causes each event, and read back in a gap-free order (seq)
// by the change feed and by webhook delivery.
//
// Events about contacts and relationships come from the audit log: a statement trigger
// (migration 00014) turns each audited change into its event, so every code path that audits a
// change emits its event with it. Other events (import.finished) are written with Emit in
// their own change's transaction. Erasing a contact (Concern) empties its events' data to its
// id.
//
// The package must not deliver anything (package webhook does), must not write any other
// package's tables, and must never put more than a contact's id in a contact.erased event.
package event
