package worker_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/importer"
)

// TestUploadedImportRunsAsAJob stores a file in chunks (bigger than one chunk), lets the real
// River client run the import job, and checks every row arrived once.
func TestUploadedImportRunsAsAJob(t *testing.T) {
	t.Parallel()
	ctx := contact.WithActor(context.Background(), "test")
	pool, a, events := startWorkers(t)

	var sb strings.Builder
	sb.WriteString("First Name,Last Name,E-mail Address,Mobile Phone,Company\n") // Outlook's header
	const rows = 11000
	for i := range rows {
		fmt.Fprintf(&sb, "First%d,Last%d,p%d@example.com,+1 415 555 %04d,Company %d with a name long enough for the file to span two chunks\n", i, i, i, i%10000, i%97)
	}
	if sb.Len() <= importer.ImportChunkSize {
		t.Fatalf("file of %d bytes does not span chunks", sb.Len())
	}
	im, err := a.Imports.CreateImport(ctx, importer.NewImport{Source: "upload", Format: "csv", FileName: "outlook.csv", Mode: importer.ImportSkip, DefaultRegion: "US"}, strings.NewReader(sb.String()))
	if err != nil {
		t.Fatal(err)
	}
	if im.FileSize != int64(sb.Len()) || len(im.FileSHA256) != 64 {
		t.Fatalf("upload recorded as %d bytes, sha %q", im.FileSize, im.FileSHA256)
	}
	start := time.Now()
	waitForJobWithin(t, events, "import_file", 2*time.Minute)
	t.Logf("import of %d rows took %s", rows, time.Since(start))
	done, err := a.Imports.GetImport(ctx, im.ID)
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != importer.ImportSucceeded || done.Created != rows || done.Failed != 0 {
		t.Fatalf("import = %+v", done)
	}
	var contacts, chunks int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM contacts), (SELECT count(*) FROM import_chunks)`).Scan(&contacts, &chunks); err != nil {
		t.Fatal(err)
	}
	if contacts != rows || chunks != 0 {
		t.Fatalf("%d contacts (want %d), %d chunks left (want 0)", contacts, rows, chunks)
	}
}
