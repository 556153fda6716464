// Package api is contactd's HTTP interface: the gin router, its handlers, bearer-token auth,
// RFC 9457 problem+json errors and the embedded OpenAPI document. It converts between JSON
// transport shapes and the domain packages' types at the edge (it reaches them through
// internal/app); it must not hold SQL or business rules, and it never answers a 5xx for
// anything a client sent.
package api
