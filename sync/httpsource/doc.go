// Package httpsource is the connector of "http" sources: it pulls a JSON API page by page, by
// cursor and/or updated-since (with an overlap window), backs off on 429 and 503 as the server
// asks (Retry-After), and maps each item to contact fields through JSON paths (gjson syntax:
// "emails.0.value").
//
// It must not touch the database or contacts: the engine (sync/syncengine) writes what it
// returns. It only pulls; pushing to an HTTP API is not supported.
package httpsource
