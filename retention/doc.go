// Package retention keeps retention policies and runs them: a policy names an action (archive,
// erase, purge_communications) and a filter (the contact filter's status and tag, plus
// inactivity and the lack of any lawful basis); a run applies the action to what the filter
// selects, a batch of contacts per transaction in id order, each change audited as
// retention:<policy id>, with a checkpoint so that a killed run resumes. A dry run lists what a
// run would change with the same query. It owns retention_policies and retention_runs.
//
// It must not write other packages' tables itself: archiving goes through package contact,
// purging communications and erasure through the Purger and Eraser it is given (wired in
// internal/app). It reads communications, consent events and the audit log only to select.
package retention
