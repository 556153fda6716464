package carddav

import "testing"

// TestServer is a started CardDAV server, for the engine tests (package carddav_test).
type TestServer struct {
	Name string
	s    *davServer
}

// Servers returns the started servers (skips, or fails in CI, when they cannot start).
func Servers(t *testing.T) []TestServer {
	var out []TestServer
	for _, s := range needServers(t) {
		out = append(out, TestServer{Name: s.name, s: s})
	}
	return out
}

// Book makes a fresh address book and returns its URL and its user.
func (ts TestServer) Book(t *testing.T) (book, user string) {
	principal, book := ts.s.book(t)
	return book, ts.s.userOf(principal)
}

// Put stores a card; Remove deletes one.
func (ts TestServer) Put(t *testing.T, book, name, card string) { ts.s.put(t, book, name, card) }

// Remove deletes a card.
func (ts TestServer) Remove(t *testing.T, book, name string) { ts.s.remove(t, book, name) }
