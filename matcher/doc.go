// Package matcher decides which contact records describe the same person.
//
// It normalizes fields (names, e-mail addresses, phone numbers, companies,
// dates), produces blocking keys so that only plausible pairs are compared,
// compares candidate pairs field by field into agreement levels, scores them
// with a Fellegi-Sunter model whose parameters are learnt without labels
// (EM for the m probabilities, random sampling for the u probabilities,
// term-frequency adjustments for common values), decides same / possible /
// different, clusters auto-merge edges with a guard against chaining, and
// explains every decision field by field.
//
// The package is pure Go: it performs no I/O, touches no database and is
// deterministic for a given input and seed. Callers (the dedupe jobs, the
// evaluation command) load data and persist results themselves.
package matcher
