package importer_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/contactfile"
	"github.com/contactd/contactd/importer"
)

func defineFields(t *testing.T, b bundle) {
	t.Helper()
	for _, d := range []contact.CustomField{
		{Key: "industry", Label: "Industry", Type: contact.CustomEnum, Options: []string{"Retail", "Software"}},
		{Key: "employees", Label: "Head count", Type: contact.CustomNumber},
		{Key: "customer_no", Label: "Customer number", Type: contact.CustomText, Unique: true},
	} {
		if _, err := b.app.Contacts.CreateCustomField(b.ctx, d); err != nil {
			t.Fatal(err)
		}
	}
}

// TestImportCustomFieldsAndTags: columns named by a field's key or label fill it and are
// validated by type (a bad value or a repeated unique value is a row error naming the field);
// other columns stay extra data; tags come from the tags column.
func TestImportCustomFieldsAndTags(t *testing.T) {
	t.Parallel()
	b := setup(t)
	defineFields(t, b)
	data := "externalId,firstName,industry,Head Count,Customer Number,tags,Favourite Colour\n" +
		"a1,Ada,software,12,C-1,VIP; partner,green\n" +
		"a2,Bob,Mining,3,C-2,,\n" +
		"a3,Cy,Retail,lots,C-3,,\n" +
		"a4,Di,Retail,4,C-1,,\n"
	im, err := b.run(t, &importer.Runner{}, "crm", "csv", importer.ImportSkip, data)
	if err != nil || im.Created != 1 || im.Failed != 3 {
		t.Fatalf("import: %+v %v", im, err)
	}
	var fields []string
	rows, err := b.pool.Query(b.ctx, `SELECT field FROM import_errors WHERE import_id = $1 ORDER BY row_index`, im.ID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var f string
		if err := rows.Scan(&f); err != nil {
			t.Fatal(err)
		}
		fields = append(fields, f)
	}
	if want := "customFields.industry,customFields.employees,customFields.customer_no"; strings.Join(fields, ",") != want {
		t.Errorf("row errors name %v, want %s", fields, want)
	}
	var custom, extra string
	var tags []string
	if err := b.pool.QueryRow(b.ctx, `SELECT c.custom_fields::text, c.extra::text,
		(SELECT array_agg(t.name ORDER BY t.name_key) FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id WHERE ct.contact_id = c.id)
		FROM contacts c WHERE first_name = 'Ada'`).Scan(&custom, &extra, &tags); err != nil {
		t.Fatal(err)
	}
	if custom != `{"industry": "Software", "employees": 12, "customer_no": "C-1"}` {
		t.Errorf("custom fields %s", custom)
	}
	if !strings.Contains(extra, "Favourite Colour") || strings.Contains(extra, "industry") {
		t.Errorf("extra %s", extra)
	}
	if strings.Join(tags, ",") != "partner,VIP" {
		t.Errorf("tags %v", tags)
	}
	if n := b.count(t, `SELECT count(*) FROM audit_log WHERE action = 'import' AND changes ? 'customFields.industry'`); n != 1 {
		t.Errorf("%d import audit entries with the custom value, want 1", n)
	}
}

// TestExportImportCustomAndTagsRoundTrip: tags and custom values survive every format (vCard
// carries custom values as X-CONTACTD-<KEY>).
func TestExportImportCustomAndTagsRoundTrip(t *testing.T) {
	t.Parallel()
	src := setup(t)
	defineFields(t, src)
	if _, err := src.app.Contacts.CreateContact(src.ctx, contact.NewContact{FirstName: "Ada", Tags: []string{"VIP", "Big, Co"},
		Custom: contact.CustomInput{"industry": "Retail", "employees": 7.5, "customer_no": "C-9"}}); err != nil {
		t.Fatal(err)
	}
	for _, format := range []contactfile.Format{contactfile.CSV, contactfile.NDJSON, contactfile.VCard} {
		t.Run(string(format), func(t *testing.T) {
			t.Parallel()
			dst := setup(t)
			defineFields(t, dst)
			var buf bytes.Buffer
			if _, err := importer.Export(src.ctx, src.app.Contacts, contact.Filter{}, format, &buf); err != nil {
				t.Fatal(err)
			}
			im, err := dst.run(t, &importer.Runner{}, "rt", string(format), importer.ImportSkip, buf.String())
			if err != nil || im.Created != 1 || im.Failed != 0 {
				t.Fatalf("re-import: %+v %v\n%s", im, err, buf.String())
			}
			var custom string
			var tags []string
			if err := dst.pool.QueryRow(dst.ctx, `SELECT c.custom_fields::text,
				(SELECT array_agg(t.name ORDER BY t.name_key) FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id WHERE ct.contact_id = c.id)
				FROM contacts c`).Scan(&custom, &tags); err != nil {
				t.Fatal(err)
			}
			if strings.Join(tags, "|") != "Big, Co|VIP" {
				t.Errorf("tags %q\n%s", tags, buf.String())
			}
			if custom != `{"industry": "Retail", "employees": 7.5, "customer_no": "C-9"}` {
				t.Errorf("custom %s\n%s", custom, buf.String())
			}
		})
	}
}

// TestImportUniqueCustomValuesAgainstTheDatabase: the records of an import claim their unique
// values together; one an active contact already has is a row error naming the field (and that
// record alone is not written); a record that updates the holder itself keeps it.
func TestImportUniqueCustomValuesAgainstTheDatabase(t *testing.T) {
	t.Parallel()
	b := setup(t)
	defineFields(t, b)
	first := "externalId,firstName,Customer Number\nh1,Holder,C-9\n"
	if im, err := b.run(t, &importer.Runner{}, "crm", "csv", importer.ImportSkip, first); err != nil || im.Created != 1 {
		t.Fatalf("first import: %+v %v", im, err)
	}
	data := "externalId,firstName,Customer Number\n" +
		"n1,Ann,C-9\n" +
		"n2,Ben,C-10\n" +
		"n3,Cat,c-11\n"
	im, err := b.run(t, &importer.Runner{}, "crm", "csv", importer.ImportOverwrite, data)
	if err != nil || im.Created != 2 || im.Failed != 1 {
		t.Fatalf("import: %+v %v", im, err)
	}
	var field string
	var index int
	if err := b.pool.QueryRow(b.ctx, `SELECT field, row_index FROM import_errors WHERE import_id = $1`, im.ID).Scan(&field, &index); err != nil {
		t.Fatal(err)
	}
	if field != "customFields.customer_no" || index != 0 {
		t.Errorf("row error on row %d naming %s, want row 0 naming customFields.customer_no", index, field)
	}
	if n := b.count(t, `SELECT count(*) FROM contacts WHERE status = 'active' AND custom_fields ? 'customer_no'`); n != 3 {
		t.Errorf("%d contacts with a customer number, want 3 (Holder, Ben, Cat and no Ann)", n)
	}
	again := "externalId,firstName,Customer Number\nh1,Holder Two,C-9\n"
	if im, err := b.run(t, &importer.Runner{}, "crm", "csv", importer.ImportOverwrite, again); err != nil || im.Updated != 1 || im.Failed != 0 {
		t.Fatalf("the holder's own value: %+v %v", im, err)
	}
}
