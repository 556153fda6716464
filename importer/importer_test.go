package importer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/contactfile"
	"github.com/contactd/contactd/importer"
	"github.com/contactd/contactd/internal/app"
	"github.com/contactd/contactd/internal/dbtest"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

type bundle struct {
	ctx  context.Context
	pool *pgxpool.Pool
	app  *app.App
}

func setup(t *testing.T) bundle {
	t.Helper()
	pool := dbtest.Pool(t)
	a, err := app.New(pool)
	if err != nil {
		t.Fatal(err)
	}
	return bundle{ctx: contact.WithActor(context.Background(), "test"), pool: pool, app: a}
}

func (b bundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := b.pool.QueryRow(b.ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// run creates an import of data and runs it with the runner, returning the ended import.
func (b bundle) run(t *testing.T, r *importer.Runner, source, format string, mode importer.ImportMode, data string) (*importer.Import, error) {
	t.Helper()
	im, err := b.app.Imports.CreateImport(b.ctx, importer.NewImport{Source: source, Format: format, FileSHA256: fmt.Sprint(len(data)), Mode: mode, DefaultRegion: "US"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Store == nil {
		r.Store = b.app.Imports
	}
	return r.Run(b.ctx, im.ID, strings.NewReader(data))
}

const mixed = `externalId,firstName,lastName,email,phone,title,company,Favourite Colour
a1,Ada,Lovelace,ada@example.com,(415) 555-0100 x 9,CTO,Analytical Engines,green
a2,,,,,,Nobody Inc,
a3,Bob,Builder,not-an-email,,,,
a4,Carol,,,call me maybe,,,
"a5","Dave ""the rave""",Jones,DAVE@Example.COM,+44 20 7946 0958,,Quote Ltd,"multi
line"
a6,Eve,,,,,,blue
`

func TestImportStoresGoodRowsAndReportsBadOnes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	im, err := b.run(t, &importer.Runner{}, "fair", "csv", importer.ImportSkip, mixed)
	if err != nil {
		t.Fatal(err)
	}
	if im.Status != importer.ImportSucceeded || im.NextRow != 6 || im.Created != 4 || im.Failed != 2 || *im.TotalRows != 6 {
		t.Fatalf("import = %+v", im)
	}
	if len(im.UnmappedColumns) != 1 || im.UnmappedColumns[0] != "Favourite Colour" {
		t.Fatalf("unmapped = %v", im.UnmappedColumns)
	}
	errs, more, err := b.app.Imports.ImportErrors(b.ctx, im.ID, -1, 100)
	if err != nil || more {
		t.Fatal(err, more)
	}
	want := []struct {
		line  int
		field string
	}{{3, "firstName"}, {4, "email"}}
	if len(errs) != len(want) {
		t.Fatalf("errors = %+v", errs)
	}
	for i, w := range want {
		if errs[i].Line != w.line || errs[i].Field != w.field {
			t.Errorf("error %d = %+v, want line %d field %s", i, errs[i], w.line, w.field)
		}
	}
	// The unparseable phone is stored and flagged; the extension is kept apart; the multi-line
	// cell of an unmapped column survives; the unmapped column is kept as extra data.
	var valid bool
	var phone string
	if err := b.pool.QueryRow(b.ctx, `SELECT c.phone, c.phone_valid FROM contacts c JOIN external_refs r ON r.contact_id = c.id
		WHERE r.source = 'fair' AND r.external_id = 'a4'`).Scan(&phone, &valid); err != nil || valid || phone != "call me maybe" {
		t.Fatalf("a4: %q %v %v", phone, valid, err)
	}
	var e164, ext, company, extra string
	if err := b.pool.QueryRow(b.ctx, `SELECT c.phone_e164, c.phone_extension, (SELECT company FROM contacts c2 JOIN external_refs r2 ON r2.contact_id = c2.id WHERE r2.external_id = 'a5'), c.extra::text
		FROM contacts c JOIN external_refs r ON r.contact_id = c.id WHERE r.external_id = 'a1'`).Scan(&e164, &ext, &company, &extra); err != nil {
		t.Fatal(err)
	}
	if e164 != "+14155550100" || ext != "9" || company != "Quote Ltd" || !strings.Contains(extra, "green") {
		t.Fatalf("a1/a5: %q %q %q %q", e164, ext, company, extra)
	}
	if n := b.count(t, `SELECT count(*) FROM audit_log WHERE action = 'import'`); n != 4 {
		t.Fatalf("%d audit entries, want 4", n)
	}

	// The same file again creates nothing.
	again, err := b.run(t, &importer.Runner{}, "fair", "csv", importer.ImportSkip, mixed)
	if err != nil {
		t.Fatal(err)
	}
	if again.Created != 0 || again.Skipped != 4 || again.Failed != 2 {
		t.Fatalf("second import = %+v", again)
	}
	if n := b.count(t, `SELECT count(*) FROM contacts`); n != 4 {
		t.Fatalf("%d contacts after importing twice", n)
	}
}

func TestImportModes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	first := "externalId,firstName,lastName,email,title\nx1,Ada,,ada@example.com,CTO\nx2,Bob,Stone,,\n"
	if _, err := b.run(t, &importer.Runner{}, "crm", "csv", importer.ImportSkip, first); err != nil {
		t.Fatal(err)
	}
	second := "externalId,firstName,lastName,email,title\nx1,Ada,Lovelace,ada@new.example,CEO\nx2,Bob,Stone,,\n"
	im, err := b.run(t, &importer.Runner{}, "crm", "csv", importer.ImportFill, second)
	if err != nil {
		t.Fatal(err)
	}
	if im.Updated != 1 || im.Skipped != 1 {
		t.Fatalf("fill = %+v", im)
	}
	get := func(ext string) (string, string, string) {
		var last, email, title *string
		if err := b.pool.QueryRow(b.ctx, `SELECT last_name, email, title FROM contacts c JOIN external_refs r ON r.contact_id = c.id WHERE r.external_id = $1`, ext).Scan(&last, &email, &title); err != nil {
			t.Fatal(err)
		}
		s := func(p *string) string {
			if p == nil {
				return ""
			}
			return *p
		}
		return s(last), s(email), s(title)
	}
	if last, email, title := get("x1"); last != "Lovelace" || email != "ada@example.com" || title != "CTO" {
		t.Fatalf("after fill: %s %s %s (fill sets only empty fields)", last, email, title)
	}
	im, err = b.run(t, &importer.Runner{}, "crm", "csv", importer.ImportOverwrite, second)
	if err != nil {
		t.Fatal(err)
	}
	if last, email, title := get("x1"); last != "Lovelace" || email != "ada@new.example" || title != "CEO" || im.Updated != 1 {
		t.Fatalf("after overwrite: %s %s %s %+v", last, email, title, im)
	}
	var normalized string
	if err := b.pool.QueryRow(b.ctx, `SELECT email_normalized FROM contacts WHERE email = 'ada@new.example'`).Scan(&normalized); err != nil || normalized != "ada@new.example" {
		t.Fatalf("normalized email not updated: %q %v", normalized, err)
	}
	if n := b.count(t, `SELECT count(*) FROM contacts`); n != 2 {
		t.Fatalf("%d contacts", n)
	}
}

func generate(n int) string {
	var sb strings.Builder
	sb.WriteString("externalId,firstName,lastName,email,phone\n")
	for i := range n {
		fmt.Fprintf(&sb, "g%d,First%d,Last%d,person%d@example.com,+1 415 555 %04d\n", i, i, i, i, i%10000)
	}
	return sb.String()
}

var errCrash = errors.New("crash")

func TestImportResumesAfterAStopWithoutLosingOrRepeatingRows(t *testing.T) {
	t.Parallel()
	b := setup(t)
	data := generate(1000)
	batches := 0
	crashing := &importer.Runner{BatchSize: 70, AfterBatch: func(context.Context, *importer.Import, []uuid.UUID) error {
		batches++
		if batches == 4 {
			return errCrash
		}
		return nil
	}}
	im, err := b.app.Imports.CreateImport(b.ctx, importer.NewImport{Source: "gen", Format: "csv", FileSHA256: "x", Mode: importer.ImportSkip, DefaultRegion: "US"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	crashing.Store = b.app.Imports
	if _, err := crashing.Run(b.ctx, im.ID, strings.NewReader(data)); !errors.Is(err, errCrash) {
		t.Fatalf("err = %v", err)
	}
	mid, _ := b.app.Imports.GetImport(b.ctx, im.ID)
	if mid.Status != importer.ImportRunning || mid.NextRow != 280 {
		t.Fatalf("after the stop: %+v", mid)
	}
	// Resume from the start of the file, as a restarted worker does.
	done, err := (&importer.Runner{Store: b.app.Imports, BatchSize: 70}).Run(b.ctx, im.ID, strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != importer.ImportSucceeded || done.Created != 1000 || done.NextRow != 1000 {
		t.Fatalf("resumed: %+v", done)
	}
	if n := b.count(t, `SELECT count(*) FROM contacts`); n != 1000 {
		t.Fatalf("%d contacts, want exactly 1000", n)
	}
	if n := b.count(t, `SELECT count(DISTINCT external_id) FROM external_refs`); n != 1000 {
		t.Fatalf("%d references", n)
	}
	// A stale runner that still holds the old progress cannot commit a batch twice.
	_, err = b.app.Imports.CommitImportBatch(b.ctx, im.ID, &importer.ImportBatch{FirstRow: 280, NextRow: 350})
	if !errors.Is(err, importer.ErrImportMoved) {
		t.Fatalf("stale batch: %v", err)
	}
}

func TestMalformedFileFailsWithItsLineKeepingEarlierBatches(t *testing.T) {
	t.Parallel()
	b := setup(t)
	data := generate(10) + "g99,\"Broken,quote,x@example.com,\n" + "g100,Fine,Row,f@example.com,\n"
	im, err := b.run(t, &importer.Runner{BatchSize: 4}, "bad", "csv", importer.ImportSkip, data)
	if err != nil {
		t.Fatal(err)
	}
	if im.Status != importer.ImportFailed || im.Error == nil || !strings.Contains(*im.Error, "line 12") {
		t.Fatalf("import = %+v (error %v)", im, im.Error)
	}
	if n := b.count(t, `SELECT count(*) FROM contacts`); n != 10 || im.NextRow != 10 {
		t.Fatalf("%d contacts, next row %d: the 10 good rows before the break must be kept", n, im.NextRow)
	}
}

func TestCancelStopsBetweenBatches(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var id uuid.UUID
	r := &importer.Runner{BatchSize: 10, AfterBatch: func(ctx context.Context, im *importer.Import, _ []uuid.UUID) error {
		_, err := b.app.Imports.CancelImport(ctx, im.ID)
		id = im.ID
		return err
	}}
	im, err := b.run(t, r, "c", "csv", importer.ImportSkip, generate(100))
	if err != nil {
		t.Fatal(err)
	}
	if im.Status != importer.ImportCancelled || im.NextRow != 10 || id != im.ID {
		t.Fatalf("import = %+v", im)
	}
	if n := b.count(t, `SELECT count(*) FROM contacts`); n != 10 {
		t.Fatalf("%d contacts", n)
	}
}

func TestExportImportRoundTrip(t *testing.T) {
	t.Parallel()
	src, dst := setup(t), setup(t)
	if _, err := src.run(t, &importer.Runner{}, "fair", "csv", importer.ImportSkip, mixed); err != nil {
		t.Fatal(err)
	}
	api, err := src.app.Contacts.CreateContact(src.ctx, contact.NewContact{FirstName: "=cmd|' /C calc'!A0", Email: "api@example.com", Phone: "+1 415 555 0199"})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.app.Contacts.Normalize(src.ctx, api.ID, "US", func(pgx.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	for _, format := range []contactfile.Format{contactfile.CSV, contactfile.NDJSON, contactfile.VCard} {
		var buf bytes.Buffer
		n, err := importer.Export(src.ctx, src.app.Contacts, contact.Filter{}, format, &buf)
		if err != nil || n != 5 {
			t.Fatalf("%s export: %d %v", format, n, err)
		}
		if format == contactfile.CSV && !strings.Contains(buf.String(), "'=cmd") {
			t.Fatalf("formula not escaped:\n%s", buf.String())
		}
		im, err := dst.run(t, &importer.Runner{}, "roundtrip-"+string(format), string(format), importer.ImportSkip, buf.String())
		if err != nil || im.Created != 5 || im.Failed != 0 {
			t.Fatalf("%s re-import: %+v %v", format, im, err)
		}
	}
	var got string
	if err := dst.pool.QueryRow(dst.ctx, `SELECT string_agg(x, E'\n' ORDER BY x) FROM (SELECT DISTINCT concat_ws('|', first_name, last_name, email, phone, title, company, email_normalized, phone_e164, phone_extension, phone_valid) AS x FROM contacts) s`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	var wantSorted string
	if err := src.pool.QueryRow(src.ctx, `SELECT string_agg(x, E'\n' ORDER BY x) FROM (SELECT concat_ws('|', first_name, last_name, email, phone, title, company, email_normalized, phone_e164, phone_extension, phone_valid) AS x FROM contacts) s`).Scan(&wantSorted); err != nil {
		t.Fatal(err)
	}
	if got != wantSorted {
		t.Fatalf("round trip differs:\nwant\n%s\ngot\n%s", wantSorted, got)
	}
	// The original references travel with the export.
	if n := dst.count(t, `SELECT count(*) FROM external_refs WHERE source = 'fair'`); n != 4 {
		t.Fatalf("%d original references re-attached, want 4", n)
	}
}
