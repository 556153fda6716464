// Package auth keeps contactd's API keys and their scopes (table api_keys): it creates keys
// (storing only a hash of the token), authenticates tokens and revokes keys. It must not know
// about HTTP: the api package reads the Authorization header and caches what Authenticate says.
package auth
