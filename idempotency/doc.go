// Package idempotency keeps the first response to each Idempotency-Key an API key sends with a
// POST (table idempotency_keys), so that a client retrying after a timeout or a 503 gets that
// response again instead of having the work done twice: the same key with the same request
// within 24 hours replays it, with another request it is refused, and while the first request
// runs a second one is told it is in progress. It also expires old keys (CleanArgs, a periodic
// job).
//
// It must not know HTTP routing or any domain: it stores opaque responses keyed by an API key
// id and the client's key. It writes no table but its own.
package idempotency
