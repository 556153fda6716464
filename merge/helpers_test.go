package merge_test

import (
	"testing"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/apptest"
)

// bundle is what a merge test needs: the stores over a fresh database.
type bundle = apptest.Bundle

// setup gives the test a fresh database with every store wired over it, and extra concerns
// registered after the built-in ones.
func setup(t *testing.T, extra ...contact.Owned) bundle {
	t.Helper()
	return apptest.New(t, extra...)
}
