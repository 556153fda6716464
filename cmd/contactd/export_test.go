package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/contactd/contactd/internal/dbtest"
)

// TestExportFailsWhenTheFileCannotBeWritten: an export whose file cannot take its contents (a
// full disk) fails instead of leaving a truncated file behind a success; one that can succeeds.
func TestExportFailsWhenTheFileCannotBeWritten(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full to stand for a full disk")
	}
	env := map[string]string{"DATABASE_URL": dbtest.URL(t)}
	getenv := func(k string) string { return env[k] }
	err := run(context.Background(), []string{"export", "--out", "/dev/full"}, getenv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "/dev/full") {
		t.Fatalf("export to a full disk: %v, want an error naming the file", err)
	}
	out := filepath.Join(t.TempDir(), "contacts.csv")
	if err := run(context.Background(), []string{"export", "--out", out}, getenv, io.Discard, io.Discard); err != nil {
		t.Fatalf("export to a file: %v", err)
	}
	if b, err := os.ReadFile(out); err != nil || len(b) == 0 {
		t.Fatalf("exported file: %d bytes, %v; want at least the header", len(b), err)
	}
}
