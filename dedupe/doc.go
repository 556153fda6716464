// Package dedupe puts the matcher to work over the live database: it checks one contact
// against the contacts that share a blocking key with it (on write), scans the whole table
// (a scheduled or requested full scan), and trains new model versions on the live data. The
// matcher decides; sure pairs are merged through the store's lossless merge, unsure ones are
// proposed for review. It must not hold SQL (that is package contact's) nor matching rules
// (that is package matcher's).
package dedupe
