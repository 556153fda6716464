package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/contactd/contactd/internal/dbtest"
	"github.com/jackc/pgx/v5"
)

// TestImportSurvivesKill9 runs `contactd import` as a real process, kills it with SIGKILL in
// the middle of the file, runs the same command again, and checks that every row became
// exactly one contact.
func TestImportSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and imports 30,000 rows")
	}
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "contactd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	const rows = 30000
	var sb strings.Builder
	sb.WriteString("externalId,firstName,lastName,email,phone,title,company\n")
	for i := range rows {
		fmt.Fprintf(&sb, "k%d,First%d,Last%d,k%d@example.com,+1 415 555 %04d,Buyer,Company %d\n", i, i, i%700, i, i%10000, i%300)
	}
	file := filepath.Join(dir, "contacts.csv")
	if err := os.WriteFile(file, []byte(sb.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	dbURL := dbtest.URL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	command := func() *exec.Cmd {
		cmd := exec.Command(bin, "import", "--file", file, "--source", "kill-test", "--batch-size", "500")
		cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "CONTACTD_LOG_LEVEL=warn")
		return cmd
	}

	first := command()
	var out1 bytes.Buffer
	first.Stdout, first.Stderr = &out1, &out1
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it once some batches, but not all, have committed.
	deadline := time.Now().Add(2 * time.Minute)
	var committed int64
	for committed < 2000 {
		if time.Now().After(deadline) {
			first.Process.Kill()
			t.Fatalf("no progress within 2 minutes:\n%s", out1.String())
		}
		time.Sleep(5 * time.Millisecond)
		_ = conn.QueryRow(ctx, `SELECT coalesce(max(next_row), 0) FROM imports`).Scan(&committed)
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	var status string
	if err := conn.QueryRow(ctx, `SELECT status, next_row FROM imports`).Scan(&status, &committed); err != nil {
		t.Fatal(err)
	}
	if status != "running" || committed >= rows {
		t.Fatalf("killed too late to test a resume: status %s at row %d", status, committed)
	}
	t.Logf("killed at row %d of %d", committed, rows)

	second := command()
	out2, err := second.CombinedOutput()
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, out2)
	}
	if !strings.Contains(string(out2), "resuming import") {
		t.Errorf("second run did not resume:\n%s", out2)
	}
	var contacts, refs, distinctRefs int
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM contacts), (SELECT count(*) FROM external_refs),
		(SELECT count(DISTINCT external_id) FROM external_refs)`).Scan(&contacts, &refs, &distinctRefs); err != nil {
		t.Fatal(err)
	}
	if contacts != rows || refs != rows || distinctRefs != rows {
		t.Fatalf("%d contacts, %d references (%d distinct) for %d rows", contacts, refs, distinctRefs, rows)
	}
	if err := conn.QueryRow(ctx, `SELECT status FROM imports`).Scan(&status); err != nil || status != "succeeded" {
		t.Fatalf("import status %s %v", status, err)
	}
}
