// Package contactfile reads and writes contact files in CSV, NDJSON and
// vCard (3.0 and 4.0 in, 4.0 out).
//
// It is the file-format layer of batch import and export: a [Reader] turns a
// stream into [Row] values one at a time, recognising the column layouts of
// common exports (Google Contacts, Outlook, HubSpot, LinkedIn and contactd's
// own) without configuration; a [Writer] turns [ExportRow] values into a
// stream. Problems with one row are [RowError] values that the caller records
// before going on; only a malformed file (bad encoding, broken quoting, a
// truncated card) stops a Reader, with a [FileError] naming the line.
//
// The package must not touch the database or the network, and must never hold
// a whole file in memory: readers and writers stream, and every line they
// buffer is bounded.
package contactfile
