package importer_test

import (
	"bytes"
	"testing"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/contactfile"
	"github.com/contactd/contactd/importer"
)

// TestImportExportAddress: an import fills the postal address from a CRM's columns (a row whose
// street is too long is reported, named, not dropped); an export in each format carries it, and
// re-imports to the same address.
func TestImportExportAddress(t *testing.T) {
	t.Parallel()
	src := setup(t)
	csv := "First Name,Street Address,City,State/Region,Postal Code,Country/Region\n" +
		"Ada,2101 NASA Pkwy,Houston,TX,77058,USA\n" +
		"Bad," + string(bytes.Repeat([]byte("x"), contact.MaxStreetLen+1)) + ",Houston,,,\n"
	im, err := src.run(t, &importer.Runner{}, "crm", "csv", importer.ImportSkip, csv)
	if err != nil || im.Created != 1 || im.Failed != 1 {
		t.Fatalf("import: %+v %v", im, err)
	}
	if n := src.count(t, `SELECT count(*) FROM import_errors WHERE field = 'street' AND line = 3`); n != 1 {
		t.Errorf("the long street is not reported on line 3 under street (%d)", n)
	}
	const want = "2101 NASA Pkwy|Houston|TX|77058|USA"
	read := func(b bundle) string {
		var got string
		if err := b.pool.QueryRow(b.ctx, `SELECT concat_ws('|', street, city, region, postal_code, country) FROM contacts`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := read(src); got != want {
		t.Fatalf("imported address %q, want %q", got, want)
	}
	for _, format := range []contactfile.Format{contactfile.CSV, contactfile.NDJSON, contactfile.VCard} {
		t.Run(string(format), func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			if _, err := importer.Export(src.ctx, src.app.Contacts, contact.Filter{}, format, &buf); err != nil {
				t.Fatal(err)
			}
			dst := setup(t)
			im, err := dst.run(t, &importer.Runner{}, "rt", string(format), importer.ImportSkip, buf.String())
			if err != nil || im.Created != 1 || im.Failed != 0 {
				t.Fatalf("re-import: %+v %v\n%s", im, err, buf.String())
			}
			if got := read(dst); got != want {
				t.Errorf("re-imported address %q, want %q\n%s", got, want, buf.String())
			}
		})
	}
}
