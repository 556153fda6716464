package contactfile_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/contactd/contactd/contactfile"
)

// A Reader recognises common export layouts; a bad row is a *RowError to
// record, and reading goes on.
func ExampleReader() {
	const file = "First Name,Last Name,E-mail Address,Mobile Phone,Job Title,Company,Birthday\n" +
		"Ada,Lovelace,ada@example.com,+44 20 7946 0018,Analyst,Analytical Engines,1815-12-10\n" +
		"Grace,Hopper\n" +
		"Alan,Turing,alan@example.co.uk,,Cryptanalyst,Bletchley Park,\n"
	r, err := contactfile.NewReader(strings.NewReader(file), contactfile.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("unmapped:", r.Mapping().Unmapped())
	for {
		row, err := r.Next()
		if err == io.EOF {
			break
		}
		var rowErr *contactfile.RowError
		if errors.As(err, &rowErr) {
			fmt.Println("row error:", rowErr)
			continue
		}
		if err != nil {
			fmt.Println("file error:", err)
			return
		}
		fmt.Printf("row %d (line %d): %s %s <%s> %s at %s %v\n",
			row.Index, row.Line, row.FirstName, row.LastName, row.Email, row.Title, row.Company, row.Extra)
	}
	// Output:
	// unmapped: [Birthday]
	// row 0 (line 2): Ada Lovelace <ada@example.com> Analyst at Analytical Engines map[Birthday:1815-12-10]
	// row error: line 3: has 2 fields, the header has 7
	// row 2 (line 4): Alan Turing <alan@example.co.uk> Cryptanalyst at Bletchley Park map[]
}

// A resumed import skips the rows a previous run committed.
func ExampleReader_Skip() {
	const file = "{\"id\":\"a\",\"email\":\"a@example.com\"}\n" +
		"{\"id\":\"b\",\"email\":\"b@example.com\"}\n" +
		"{\"id\":\"c\",\"email\":\"c@example.com\"}\n"
	r, err := contactfile.NewReader(strings.NewReader(file), contactfile.Options{Format: contactfile.NDJSON})
	if err != nil {
		fmt.Println(err)
		return
	}
	committed := 2
	if err := r.Skip(committed); err != nil {
		fmt.Println(err)
		return
	}
	row, err := r.Next()
	fmt.Println(row.Index, row.ExternalID, row.Email, err)
	// Output: 2 c c@example.com <nil>
}

// An explicit mapping names columns the recognition does not know.
func ExampleOptions_mapping() {
	const file = "Vorname;Nachname;Mail\nKonrad;Zuse;kz@example.de\n"
	r, err := contactfile.NewReader(strings.NewReader(file), contactfile.Options{
		Mapping: map[string]string{"Vorname": "firstName", "Nachname": "lastName", "Mail": "email"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	row, err := r.Next()
	fmt.Println(row.FirstName, row.LastName, row.Email, err)
	// Output: Konrad Zuse kz@example.de <nil>
}

// A Writer streams an export; CSV cells that a spreadsheet would run as a
// formula are escaped with a leading quote.
func ExampleCSVWriter() {
	w := contactfile.NewCSVWriter(os.Stdout)
	valid := true
	w.Write(&contactfile.ExportRow{
		ID: "c1", FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com",
		Phone: "+14155550100", Company: "=cmd()", NormalizedEmail: "ada@example.com",
		NormalizedPhone: "+14155550100", PhoneValid: &valid, Status: "active",
		CreatedAt:   time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		ExternalIDs: []string{"google:people/c1", "hubspot:51"},
	})
	if err := w.Flush(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// id,firstName,lastName,email,phone,title,company,normalizedEmail,normalizedPhone,phoneExtension,phoneValid,status,createdAt,updatedAt,externalIds,tags,street,city,region,postalCode,country,type
	// c1,Ada,Lovelace,ada@example.com,'+14155550100,,'=cmd(),ada@example.com,'+14155550100,,true,active,2026-03-01T12:00:00Z,,google:people/c1;hubspot:51,,,,,,,
}

func ExampleDetectFormat() {
	f, err := contactfile.DetectFormat("contacts.vcf", "application/octet-stream", nil)
	fmt.Println(f, err)
	f, err = contactfile.DetectFormat("upload", "", []byte("BEGIN:VCARD\r\nVERSION:3.0\r\n"))
	fmt.Println(f, f.ContentType(), err)
	// Output:
	// vcard <nil>
	// vcard text/vcard; charset=utf-8 <nil>
}
