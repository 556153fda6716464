// Package consent keeps what a contact agreed to be contacted for: the purposes (data, not
// code: marketing and service exist from the start), the append-only log of consent events per
// (channel, purpose), one-click unsubscribe tokens (RFC 8058), and the one reachability answer
// every sender asks before reaching a contact.
//
// Consent events keep their contact through merges: the consent of a survivor is computed over
// its own events and those of every contact merged into it, where a withdrawal on any of them
// holds until the survivor itself records a later grant after the merge. So a merge never widens
// consent and an undo, which only unlinks the contacts again, gives each person back their own
// history (withdrawals recorded on the survivor while merged are copied to the restored
// contacts, so an undo never widens either).
//
// Reachability reads one row per contact: each contact carries its consent state, the verdict
// of each (channel, purpose) over everything folded into it, which this package recomputes in
// the transaction of every change to events or merges (state.go).
//
// The package owns the purposes and consent_events tables. It reads contacts (status, address
// validity, preferences, merge links, consent state) and merges (when a contact joined its
// survivor) but must not write them: it writes the consent state only through
// contact.SetConsentStatesTx, and audit entries only through contact.Audit.
package consent
