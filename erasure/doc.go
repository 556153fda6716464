// Package erasure erases people (GDPR Art. 17) and keeps the suppression list. Erase resolves
// each contact to the whole person (its survivor and every record merged into it), records the
// person's canonical email and phone on the suppression list as keyed HMACs, hands the contacts
// to every contact.Owned concern's EraseTx, scrubs the merges' snapshots and the copies other
// packages keep outside rows keyed by the contact (Scrubber: import error rows, stored
// idempotent responses, sync run errors, trained models' term counts, audit entries and events of
// other contacts), and
// leaves a tombstone. The suppression list answers, for imports, sync and creates, whether an
// email or phone belongs to a suppressed person, one query per batch.
//
// It owns the suppressions table and writes no other package's table: it calls them. It never
// stores an email or a phone in clear, and must not put more than a contact's id in anything it
// emits.
package erasure
