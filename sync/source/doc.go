// Package source keeps external sync's state: the sources (a remote address book or API with
// its settings and encrypted secrets), their runs, their checkpoints and the links from a
// source's remote records to contacts (a contact.Owned concern, so merges and undos carry
// them). It owns the tables sync_sources, sync_runs, sync_links and sync_tombstones and
// nothing else.
//
// It must not talk to remote systems (the connectors in sync/httpsource and sync/carddav do)
// nor write contacts (the engine in sync/syncengine does, through package contact); it holds
// no secret in clear text outside memory.
package source
