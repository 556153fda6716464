// Package dedupe puts the matcher to work over the live database: it keeps the blocking keys
// (contact_keys) every check blocks on, checks one contact against the contacts sharing a key
// with it (on write), checks an import batch's contacts together, scans the whole table (one
// scan at a time), trains new model versions on the live data (on request, and by itself when
// the contacts have outgrown the model), and keeps the review queue,
// scan runs and models. The matcher decides; sure groups are merged through a Merger (package
// merge's store), unsure pairs proposed for review. It owns the SQL of its own tables only, and
// must not hold matching rules (that is package matcher's) nor merge code (package merge's).
package dedupe
