package contactfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Field names a contact field a column can be mapped to. The names are the
// spec's, as used in NDJSON keys and explicit mappings.
type Field string

// The fields a column can map to.
const (
	FieldFirstName Field = "firstName"
	FieldLastName  Field = "lastName"
	// FieldFullName is split into first and last name when the row has
	// neither.
	FieldFullName Field = "fullName"
	// FieldEmail may be mapped from several columns: the first non-empty in
	// column order is the primary email, the others go to Row.Emails. A
	// cell may hold several values separated by " ::: " (Google Contacts).
	FieldEmail Field = "email"
	// FieldPhone may be mapped from several columns, like FieldEmail.
	FieldPhone   Field = "phone"
	FieldTitle   Field = "title"
	FieldCompany Field = "company"
	// The postal address's parts.
	FieldStreet      Field = "street"
	FieldCity        Field = "city"
	FieldRegion      Field = "region"
	FieldPostalCode  Field = "postalCode"
	FieldCountry     Field = "country"
	FieldExternalID  Field = "externalId"
	FieldExternalIDs Field = "externalIds"
	// FieldTags holds tags separated by ";".
	FieldTags Field = "tags"
	// FieldIgnore drops the column: contactd's derived export columns
	// (normalizedEmail, ...) map to it, and so can an explicit mapping ("-").
	FieldIgnore Field = "-"
	// FieldExtra keeps the column in Row.Extra; it is what unmapped columns
	// get.
	FieldExtra Field = ""
)

// ParseField returns the Field named by s, accepting the same spellings as
// header recognition ("First Name", "first_name", ...); "" and "-" are
// FieldIgnore.
func ParseField(s string) (Field, error) {
	if strings.TrimSpace(s) == "" || s == "-" {
		return FieldIgnore, nil
	}
	if f, ok := knownHeaders[headerKey(s)]; ok && f != FieldIgnore {
		return f, nil
	}
	return "", fmt.Errorf("contactfile: unknown field %q", s)
}

// Column is one column of a CSV header and the field it maps to.
type Column struct {
	// Index is the 0-based position of the column.
	Index int
	// Name is the header cell as the file has it.
	Name string
	// Field is what the column maps to; FieldExtra when it is unmapped.
	Field Field
}

// Mapping says how a file's columns map to contact fields.
type Mapping struct {
	// HeaderLine is the 1-based line of the CSV header, after any preamble
	// such as LinkedIn's "Notes:"; 0 for formats without a header.
	HeaderLine int
	// Columns lists the header's columns in order; empty for NDJSON and
	// vCard, whose keys and properties have fixed meanings.
	Columns []Column
	// ContactdExport is true when the header is contactd's own export
	// header, whose formula-escaped cells the Reader unescapes.
	ContactdExport bool
}

// Unmapped returns the names of the columns kept in Row.Extra.
func (m Mapping) Unmapped() []string {
	var names []string
	for _, c := range m.Columns {
		if c.Field == FieldExtra {
			names = append(names, c.Name)
		}
	}
	return names
}

// headerKey folds a header cell to the key the recognition table uses:
// lower-case letters and digits only ("E-mail 1 - Value" → "email1value").
func headerKey(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			b = append(b, c)
		case 'A' <= c && c <= 'Z':
			b = append(b, c+'a'-'A')
		}
	}
	return string(b)
}

// knownHeaders maps folded header names of the spec and of the exports of
// Google Contacts (old and new), Outlook, HubSpot and LinkedIn to fields.
var knownHeaders = map[string]Field{
	// The spec's names and their variants; Google and Outlook.
	"firstname": FieldFirstName, "givenname": FieldFirstName, "first": FieldFirstName,
	"forename": FieldFirstName,
	"lastname": FieldLastName, "familyname": FieldLastName, "surname": FieldLastName,
	"last": FieldLastName,
	"name": FieldFullName, "fullname": FieldFullName, "displayname": FieldFullName,
	"contactname": FieldFullName,
	"email":       FieldEmail, "emailaddress": FieldEmail, "mail": FieldEmail,
	"primaryemail": FieldEmail, "workemail": FieldEmail, "homeemail": FieldEmail,
	"phone": FieldPhone, "phonenumber": FieldPhone, "telephone": FieldPhone,
	"mobile": FieldPhone, "mobilephone": FieldPhone, "mobilephonenumber": FieldPhone,
	"cellphone": FieldPhone, "workphone": FieldPhone, "businessphone": FieldPhone,
	"businessphone2": FieldPhone, "homephone": FieldPhone, "homephone2": FieldPhone,
	"otherphone": FieldPhone, "primaryphone": FieldPhone, "companymainphone": FieldPhone,
	"carphone": FieldPhone,
	"title":    FieldTitle, "jobtitle": FieldTitle, "position": FieldTitle,
	"organizationtitle": FieldTitle,
	"company":           FieldCompany, "companyname": FieldCompany, "organization": FieldCompany,
	"organisation": FieldCompany, "organizationname": FieldCompany,
	// The postal address: the spec's names, HubSpot's, Salesforce's Mailing*,
	// Outlook's Business/Home ones and Google's "Address 1 - ..." ones.
	"street": FieldStreet, "streetaddress": FieldStreet, "address": FieldStreet,
	"address1": FieldStreet, "addressline1": FieldStreet, "mailingstreet": FieldStreet,
	"businessstreet": FieldStreet, "homestreet": FieldStreet, "address1street": FieldStreet,
	"city": FieldCity, "town": FieldCity, "mailingcity": FieldCity, "businesscity": FieldCity,
	"homecity": FieldCity, "address1city": FieldCity,
	"region": FieldRegion, "state": FieldRegion, "province": FieldRegion,
	"stateprovince": FieldRegion, "stateorprovince": FieldRegion, "stateregion": FieldRegion,
	"mailingstate": FieldRegion, "businessstate": FieldRegion, "homestate": FieldRegion,
	"address1region": FieldRegion,
	"postalcode":     FieldPostalCode, "zip": FieldPostalCode, "zipcode": FieldPostalCode,
	"postcode": FieldPostalCode, "mailingpostalcode": FieldPostalCode,
	"businesspostalcode": FieldPostalCode, "homepostalcode": FieldPostalCode,
	"address1postalcode": FieldPostalCode,
	"country":            FieldCountry, "countryregion": FieldCountry, "mailingcountry": FieldCountry,
	"businesscountry": FieldCountry, "businesscountryregion": FieldCountry,
	"homecountry": FieldCountry, "homecountryregion": FieldCountry, "address1country": FieldCountry,
	"externalid": FieldExternalID, "id": FieldExternalID, "recordid": FieldExternalID,
	"contactid": FieldExternalID, "uid": FieldExternalID,
	"externalids": FieldExternalIDs,
	"tags":        FieldTags, "categories": FieldTags,
	// contactd's export columns that are derived from others.
	"normalizedemail": FieldIgnore, "normalizedphone": FieldIgnore,
	"phoneextension": FieldIgnore, "phonevalid": FieldIgnore,
}

// recognize maps a header cell to a field without configuration.
func recognize(name string) Field {
	k := headerKey(name)
	if f, ok := knownHeaders[k]; ok {
		return f
	}
	// Numbered multi-value columns: Google's "E-mail 2 - Value",
	// "Phone 3 - Value", "Organization 1 - Name"/"- Title"; Outlook's
	// "E-mail 2 Address".
	switch {
	case numbered(k, "email", "value"), numbered(k, "email", "address"):
		return FieldEmail
	case numbered(k, "phone", "value"):
		return FieldPhone
	case numbered(k, "organization", "name"):
		return FieldCompany
	case numbered(k, "organization", "title"):
		return FieldTitle
	}
	return FieldExtra
}

// numbered reports whether k is prefix, some digits, then suffix.
func numbered(k, prefix, suffix string) bool {
	rest, ok := strings.CutPrefix(k, prefix)
	if !ok {
		return false
	}
	rest, ok = strings.CutSuffix(rest, suffix)
	if !ok || rest == "" {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if rest[i] < '0' || rest[i] > '9' {
			return false
		}
	}
	return true
}

// buildMapping maps a header, explicit entries (column name → field name)
// first. Explicit names match a header cell exactly or, failing that, by
// folded key.
func buildMapping(header []string, explicit map[string]Field) []Column {
	cols := make([]Column, len(header))
	for i, name := range header {
		f, ok := explicit[name]
		if !ok {
			f, ok = explicit[headerKey(name)]
		}
		if !ok {
			f = recognize(name)
		}
		cols[i] = Column{Index: i, Name: name, Field: f}
	}
	demoteHonorific(cols, explicit)
	return cols
}

// demoteHonorific keeps Outlook's "Title" column (Mr., Dr.) out of the title
// field when a "Job Title" column is there too.
func demoteHonorific(cols []Column, explicit map[string]Field) {
	jobTitle := -1
	for i, c := range cols {
		if headerKey(c.Name) == "jobtitle" {
			jobTitle = i
		}
	}
	if jobTitle < 0 {
		return
	}
	for i, c := range cols {
		_, pinned := explicit[c.Name]
		if c.Field == FieldTitle && i != jobTitle && !pinned && headerKey(c.Name) == "title" {
			cols[i].Field = FieldExtra
		}
	}
}

// parseExplicit validates an explicit mapping and indexes it by column name
// and folded key.
func parseExplicit(m map[string]string) (map[string]Field, error) {
	if len(m) == 0 {
		return nil, nil
	}
	out := make(map[string]Field, 2*len(m))
	for col, name := range m {
		f, err := ParseField(name)
		if err != nil {
			return nil, fmt.Errorf("contactfile: mapping for column %q: %w", col, err)
		}
		out[col] = f
		if k := headerKey(col); k != col {
			if _, dup := out[k]; !dup {
				out[k] = f
			}
		}
	}
	return out, nil
}

// checkExplicit returns an error naming the explicitly mapped columns the
// header lacks.
func checkExplicit(header []string, m map[string]string) error {
	have := make(map[string]bool, 2*len(header))
	for _, h := range header {
		have[h] = true
		have[headerKey(h)] = true
	}
	var missing []string
	for col := range m {
		if !have[col] && !have[headerKey(col)] {
			missing = append(missing, col)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("contactfile: mapping names columns the header lacks: %q", missing)
	}
	return nil
}

// headerScore counts the cells of a candidate header row that map to a
// field, used to find the header below a preamble.
func headerScore(rec []string, explicit map[string]Field) int {
	n := 0
	for _, name := range rec {
		if _, ok := explicit[name]; ok {
			n++
		} else if recognize(name) != FieldExtra {
			n++
		}
	}
	return n
}

// ParseMapping reads a column mapping as a person writes it: a JSON object
// {"Column": "field"} or "Column=field,Column=field". Every field must be one
// ParseField accepts.
func ParseMapping(s string) (map[string]string, error) {
	m := map[string]string{}
	s = strings.TrimSpace(s)
	if s == "" {
		return m, nil
	}
	if strings.HasPrefix(s, "{") {
		dec := json.NewDecoder(strings.NewReader(s))
		if err := dec.Decode(&m); err != nil || dec.More() {
			return nil, errors.New(`must be a JSON object of column names to field names, or "Column=field,..."`)
		}
	} else {
		for _, pair := range strings.Split(s, ",") {
			col, field, ok := strings.Cut(pair, "=")
			if !ok || strings.TrimSpace(col) == "" {
				return nil, fmt.Errorf("%q is not Column=field", pair)
			}
			m[strings.TrimSpace(col)] = strings.TrimSpace(field)
		}
	}
	for col, field := range m {
		if _, err := ParseField(field); err != nil {
			return nil, fmt.Errorf("column %q: %w", col, err)
		}
	}
	return m, nil
}
