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
//
// # Using it
//
// Settings (JSON; DefaultSettings for contacts, BuiltinSettings for the
// shipped data sets, ParseSettings for custom fields) compile into a
// Matcher with New. The Matcher prepares records (Prepare), computes their
// blocking keys (Keys, KeysOf) and trains a Model from unlabelled records
// (Train, TrainLink). A Model serialises to a small JSON document
// (MarshalJSON, LoadModel).
//
// A database-backed dedupe job stores each contact's keys in an indexed
// column, finds the contacts that share a key with a new one (ignoring keys
// shared by more than Settings.MaxBlockSize contacts, as the full scan
// does), and calls Model.Match to score the new contact against them in
// microseconds; Model.Explain tells a reviewer why. A full scan over many
// records on all cores is Model.Dedupe (or Model.Link for two sources),
// which returns the scored edges, the clusters and blocking statistics.
//
// # Phone numbers
//
// NormalizePhone (libphonenumber) validates and formats numbers for
// storage. Matching uses PhoneKey, the last nine digits before any
// extension, which equals comparing national significant numbers for the
// numbering plans in contact data whether or not a country code was
// typed, without the cost of a full parse per comparison.
package matcher
