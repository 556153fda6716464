// Package syncengine runs a source's sync: it asks the source's connector for the changes
// since the source's checkpoint page by page, and writes each page's records into contactd
// the way any write goes (validation, normalization, the duplicate check), with the page's
// links, audit entries, jobs and the checkpoint after it in one transaction.
//
// It must not speak any remote protocol (connectors do: sync/httpsource, later CardDAV) nor
// touch tables of its own: contacts are written through package contact, sources, runs and
// links through package source.
package syncengine
