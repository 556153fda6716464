package importer

import (
	"context"
	"io"
	"maps"
	"slices"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/contactfile"
)

// flushEvery is how many exported rows go out between flushes, so a slow reader sees progress.
const flushEvery = 10000

// Export streams the contacts the filter selects to w in the given format and returns how
// many it wrote.
func Export(ctx context.Context, store *contact.Store, f contact.Filter, format contactfile.Format, w io.Writer) (int, error) {
	defs, err := store.CustomDefinitions(ctx)
	if err != nil {
		return 0, err
	}
	// A column per custom field, by key: an import reads them back into the same fields.
	out, err := contactfile.NewExportWriter(w, format, slices.Sorted(maps.Keys(defs)))
	if err != nil {
		return 0, err
	}
	n := 0
	var row contactfile.ExportRow
	err = store.ExportContacts(ctx, f, func(ec *contact.ExportContact) error {
		toExportRow(ec, &row)
		if err := out.Write(&row); err != nil {
			return err
		}
		n++
		if n%flushEvery == 0 {
			return out.Flush()
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	return n, out.Flush()
}

func toExportRow(ec *contact.ExportContact, row *contactfile.ExportRow) {
	c := &ec.Contact
	*row = contactfile.ExportRow{
		ID: c.ID.String(), FirstName: deref(c.FirstName), LastName: deref(c.LastName), Email: deref(c.Email),
		Phone: deref(c.Phone), Title: deref(c.Title), Company: deref(c.Company),
		Street: deref(c.Street), City: deref(c.City), Region: deref(c.Region), PostalCode: deref(c.PostalCode),
		Country:         deref(c.Country),
		NormalizedEmail: deref(c.Normalized.Email), NormalizedPhone: deref(c.Normalized.Phone),
		PhoneExtension: deref(c.Normalized.PhoneExtension), PhoneValid: c.Normalized.PhoneValid,
		Status: string(c.Status), CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, ExternalIDs: ec.ExternalIDs,
		Tags: c.Tags, Custom: c.Custom, Type: string(ec.Type),
	}
}
