// Package carddav is the connector of "carddav" sources (RFC 6352): it finds the address book
// from a book, principal or server URL (current-user-principal, addressbook-home-set), pulls
// its changes with sync-collection (RFC 6578) and addressbook-multiget, or with an etag
// listing where the server lacks sync-collection, and a full listing (swept by the engine)
// when the server refuses the sync token. It maps vCard 3.0 and 4.0 to contact fields and
// back, and writes cards with If-Match and If-None-Match preconditions, keeping what contactd
// does not model as the card had it.
//
// It must not touch the database or contacts: the engine (sync/syncengine) writes what it
// returns and decides what to push.
package carddav
