package contactfile

import (
	"bytes"
	"testing"
)

type address struct{ street, city, region, postalCode, country string }

func addressOf(r *Row) address { return address{r.Street, r.City, r.Region, r.PostalCode, r.Country} }

func readRows(t *testing.T, format Format, in string) []Row {
	t.Helper()
	_, res := readString(t, in, Options{Format: format})
	if res.err != nil || len(res.rowErrs) > 0 {
		t.Fatalf("read: %v %v", res.err, res.rowErrs)
	}
	return res.rows
}

// TestAddressRead: the postal address comes from CSV columns under the spec's, HubSpot's,
// Salesforce's and Outlook's names, from NDJSON keys, and from the preferred vCard ADR (its
// extended address after the street, its lines joined, escaped separators kept).
func TestAddressRead(t *testing.T) {
	t.Parallel()
	want := address{"2101 NASA Pkwy, Bldg 30", "Houston", "TX", "77058", "USA"}
	for _, tc := range []struct {
		name   string
		format Format
		in     string
		want   address
	}{
		{"csv spec", CSV, "firstName,street,city,region,postalCode,country\nAda,\"2101 NASA Pkwy\nBldg 30\",Houston,TX,77058,USA\n", want},
		{"csv hubspot", CSV, "First Name,Street Address,City,State/Region,Postal Code,Country/Region\nAda,\"2101 NASA Pkwy, Bldg 30\",Houston,TX,77058,USA\n", want},
		{"csv salesforce", CSV, "First Name,Mailing Street,Mailing City,Mailing State,Mailing Postal Code,Mailing Country\nAda,\"2101 NASA Pkwy, Bldg 30\",Houston,TX,77058,USA\n", want},
		{"csv zip and state", CSV, "name,address,town,state,zip,country\nAda,\"2101 NASA Pkwy, Bldg 30\",Houston,TX,77058,USA\n", want},
		{"ndjson", NDJSON, `{"firstName":"Ada","street":"2101 NASA Pkwy, Bldg 30","city":"Houston","region":"TX","postalCode":"77058","country":"USA"}` + "\n", want},
		{"vcard preferred adr", VCard, "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ada\r\nADR;TYPE=home;PREF=2:;;1 Elm St;Springfield;;;\r\n" +
			"ADR;TYPE=work;PREF=1:;Bldg 30;2101 NASA Pkwy;Houston;TX;77058;USA\r\nEND:VCARD\r\n", want},
		{"vcard escaped and lines", VCard, "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada\r\nADR:;;Rue de la Paix\\, 1\\nEtage 2;Paris;;75002;France\r\nEND:VCARD\r\n",
			address{"Rue de la Paix, 1, Etage 2", "Paris", "", "75002", "France"}},
		{"vcard po box only", VCard, "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada\r\nADR:PO Box 12;;;Reykjavik;;101;Iceland\r\nEND:VCARD\r\n",
			address{"PO Box 12", "Reykjavik", "", "101", "Iceland"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rows := readRows(t, tc.format, tc.in)
			if len(rows) != 1 {
				t.Fatalf("%d rows", len(rows))
			}
			if got := addressOf(&rows[0]); got != tc.want {
				t.Errorf("address %+v, want %+v", got, tc.want)
			}
			if len(rows[0].Extra) != 0 {
				t.Errorf("extra %v: the address went elsewhere too", rows[0].Extra)
			}
		})
	}
}

// TestAddressRoundTrip: an exported address reads back the same from each format.
func TestAddressRoundTrip(t *testing.T) {
	t.Parallel()
	in := ExportRow{ID: "c1", FirstName: "Ada", Street: "Rue de la Paix, 1; Etage 2", City: "Paris", Region: "Île-de-France",
		PostalCode: "75002", Country: "France"}
	want := address{in.Street, in.City, in.Region, in.PostalCode, in.Country}
	for _, format := range []Format{CSV, NDJSON, VCard} {
		var buf bytes.Buffer
		w, err := NewWriter(&buf, format)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(&in); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		rows := readRows(t, format, buf.String())
		if len(rows) != 1 || addressOf(&rows[0]) != want {
			t.Errorf("%s: read back %+v from %q, want %+v", format, rows, buf.String(), want)
		}
	}
}
