// Package communication keeps the communications logged with contacts (emails, messages, calls,
// meetings, letters, chats; inbound or outbound) and builds a contact's timeline: its
// communications, field changes, relationship and consent events, merges and undos, newest
// first, by keyset.
//
// It owns the communications table, which follows its contact through merges (Concern, a
// contact.MovedRows). It reads the audit trail through package contact and must not write any
// other package's tables; it writes audit entries only through contact.Audit.
package communication
