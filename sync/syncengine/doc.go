// Package syncengine runs a source's sync: it asks the source's connector for the changes
// since the source's checkpoint page by page, and writes each page's records into contactd
// the way any write goes (validation, normalization, the duplicate check), with the page's
// links, audit entries, jobs and the checkpoint after it in one transaction. For a source that
// pushes, it then writes remotely what changed here since the last sync (updates with
// If-Match, deletes, creates), merging three ways where the remote changed too.
//
// It must not speak any remote protocol (connectors do: sync/httpsource, sync/carddav) nor
// touch tables of its own: contacts, their alternates are written through package contact,
// tags through package tag, sources, runs and links through package source.
package syncengine
