package contact

import (
	"strconv"
	"strings"

	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Values are a contact's own fields. Contact embeds them, and so do the rows of bulk writers
// (imports), so that every use of a field goes through the registry (Fields).
type Values struct {
	FirstName, LastName, Email, Phone, Title, Company *string
	// Street, City, Region, PostalCode and Country are the postal address.
	Street, City, Region, PostalCode, Country *string
}

// FieldKind says how a field's value is validated and normalized.
type FieldKind int

// The kinds of field.
const (
	KindText  FieldKind = iota // trimmed text without control characters
	KindEmail                  // an email address, normalized for comparison
	KindPhone                  // a phone number, normalized to E.164 by the normalize job
)

// Field is one of a contact's fields, declared once: how it is named (in the API, the audit
// log, merges' fieldValues and the matcher's records), stored, validated, matched and merged.
// Every list of a contact's fields in contactd is a loop over Fields.
type Field struct {
	// Name is the field's name in the API, the audit log, a merge's fieldValues and the
	// matcher's records: "firstName".
	Name string
	// Column is the field's column in contacts.
	Column string
	// MaxLen bounds the value, in characters.
	MaxLen int
	// Kind says how the value is validated and normalized.
	Kind FieldKind
	// Matched says the matcher reads the field: a change to it re-normalizes, re-keys and
	// re-checks the contact, and it is part of a review's fingerprint.
	Matched bool
	// Survivorship says how a merge picks the survivor's value.
	Survivorship Survivorship
	// Group names the fields a merge takes together, from one contact ("address"): a survivor
	// never gets its street from one record and its city from another. Empty: the field alone.
	Group string

	value  func(*Values) **string
	input  func(*NewContact) *string
	update func(*Update) *Opt[string]
}

// CompositeField is a part of a contact made of many values (the custom fields), which a
// merge combines and an undo restores value by value, not as one string like a Field. Merge
// and undo go through CompositeFields without naming them.
type CompositeField struct {
	// Name is the part's name in the API and the audit log.
	Name string
	// Merge sets out's part for a merge: from the survivor and the others (most recently
	// updated first).
	Merge func(out, survivor *Contact, others []*Contact)
	// Restore sets out's part for an undone merge from the survivor now (cur), before the
	// merge and as the merge left it (after), and returns a line for each value it kept
	// because it changed since.
	Restore func(out, cur, before, after *Contact) []string
}

// CompositeFields are a contact's composite parts.
var CompositeFields = []*CompositeField{
	{
		Name:  "customFields",
		Merge: func(out, survivor *Contact, others []*Contact) { out.Custom = mergeCustom(survivor, others) },
		Restore: func(out, cur, before, after *Contact) []string {
			var lines []string
			out.Custom, lines = restoreCustom(cur.Custom, before.Custom, after.Custom)
			return lines
		},
	},
}

// Survivorship is a merge's rule for a field's value on the survivor.
type Survivorship int

// The survivorship rules.
const (
	// SurvivorFirst keeps the survivor's value when it has one, else takes the most recently
	// updated non-empty value of the merged contacts. A merge's fieldValues override it. For a
	// field of a Group, the same applies to the group as a whole: the survivor keeps its group
	// when it has any of its values, else the most recently updated contact that has one gives
	// all of them.
	SurvivorFirst Survivorship = iota
)

// GroupAddress is the group of the postal address's fields.
const GroupAddress = "address"

// Ptr returns where v keeps the field.
func (f *Field) Ptr(v *Values) **string { return f.value(v) }

// Input returns where a new contact's input keeps the field (the API decodes into it).
func (f *Field) Input(n *NewContact) *string { return f.input(n) }

// Update returns where a partial update keeps the field.
func (f *Field) Update(u *Update) *Opt[string] { return f.update(u) }

// Get returns the field's value in v, nil when it has none.
func (f *Field) Get(v *Values) *string { return *f.value(v) }

// Fields are a contact's fields, in the order the API documents them.
var Fields = []*Field{
	{Name: "firstName", Column: "first_name", MaxLen: MaxNameLen, Matched: true,
		value: func(v *Values) **string { return &v.FirstName }, input: func(n *NewContact) *string { return &n.FirstName },
		update: func(u *Update) *Opt[string] { return &u.FirstName }},
	{Name: "lastName", Column: "last_name", MaxLen: MaxNameLen, Matched: true,
		value: func(v *Values) **string { return &v.LastName }, input: func(n *NewContact) *string { return &n.LastName },
		update: func(u *Update) *Opt[string] { return &u.LastName }},
	{Name: "email", Column: "email", MaxLen: MaxEmailLen, Kind: KindEmail, Matched: true,
		value: func(v *Values) **string { return &v.Email }, input: func(n *NewContact) *string { return &n.Email },
		update: func(u *Update) *Opt[string] { return &u.Email }},
	{Name: "phone", Column: "phone", MaxLen: MaxPhoneLen, Kind: KindPhone, Matched: true,
		value: func(v *Values) **string { return &v.Phone }, input: func(n *NewContact) *string { return &n.Phone },
		update: func(u *Update) *Opt[string] { return &u.Phone }},
	{Name: "title", Column: "title", MaxLen: MaxTitleLen, Matched: true,
		value: func(v *Values) **string { return &v.Title }, input: func(n *NewContact) *string { return &n.Title },
		update: func(u *Update) *Opt[string] { return &u.Title }},
	{Name: "company", Column: "company", MaxLen: MaxCompanyLen, Matched: true,
		value: func(v *Values) **string { return &v.Company }, input: func(n *NewContact) *string { return &n.Company },
		update: func(u *Update) *Opt[string] { return &u.Company }},
	{Name: "street", Column: "street", MaxLen: MaxStreetLen, Group: GroupAddress,
		value: func(v *Values) **string { return &v.Street }, input: func(n *NewContact) *string { return &n.Street },
		update: func(u *Update) *Opt[string] { return &u.Street }},
	{Name: "city", Column: "city", MaxLen: MaxCityLen, Group: GroupAddress,
		value: func(v *Values) **string { return &v.City }, input: func(n *NewContact) *string { return &n.City },
		update: func(u *Update) *Opt[string] { return &u.City }},
	{Name: "region", Column: "region", MaxLen: MaxRegionLen, Group: GroupAddress,
		value: func(v *Values) **string { return &v.Region }, input: func(n *NewContact) *string { return &n.Region },
		update: func(u *Update) *Opt[string] { return &u.Region }},
	{Name: "postalCode", Column: "postal_code", MaxLen: MaxPostalCodeLen, Group: GroupAddress,
		value: func(v *Values) **string { return &v.PostalCode }, input: func(n *NewContact) *string { return &n.PostalCode },
		update: func(u *Update) *Opt[string] { return &u.PostalCode }},
	{Name: "country", Column: "country", MaxLen: MaxCountryLen, Group: GroupAddress,
		value: func(v *Values) **string { return &v.Country }, input: func(n *NewContact) *string { return &n.Country },
		update: func(u *Update) *Opt[string] { return &u.Country }},
}

// HasPostalAddress says whether v holds an address a letter can be sent to: a street, and a
// city or a postal code.
func HasPostalAddress(v *Values) bool {
	set := func(p *string) bool { return p != nil && strings.TrimSpace(*p) != "" }
	return set(v.Street) && (set(v.City) || set(v.PostalCode))
}

// FieldByName returns the field called name, or nil.
func FieldByName(name string) *Field {
	for _, f := range Fields {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// FieldNames returns the names of the fields, in registry order.
func FieldNames() []string {
	out := make([]string, len(Fields))
	for i, f := range Fields {
		out[i] = f.Name
	}
	return out
}

// Changes lists the fields and preferences of c that differ from before (every set field when
// before is nil), for the audit log.
func (c *Contact) Changes(before *Contact) map[string]Change {
	changes := map[string]Change{}
	if before == nil {
		before = &Contact{}
	}
	for _, f := range Fields {
		b, a := f.Get(&before.Values), f.Get(&c.Values)
		if strPtrValue(b) != strPtrValue(a) {
			changes[f.Name] = Change{Before: strPtrValue(b), After: strPtrValue(a)}
		}
	}
	if !before.Preferences.Equal(c.Preferences) {
		changes["preferences"] = Change{Before: before.Preferences, After: c.Preferences}
	}
	customChanges(changes, before.Custom, c.Custom)
	if b, a := typeValue(before.ExplicitType), typeValue(c.ExplicitType); b != a {
		changes["type"] = Change{Before: b, After: a}
	}
	return changes
}

// MatchedFieldChanged reports whether changes touch a field the matcher reads: a field of
// Fields it reads, or a custom field (email and phone ones are alternates to the matcher; the
// change does not say the type, so every custom change re-keys the contact).
func MatchedFieldChanged(changes map[string]Change) bool {
	for _, f := range Fields {
		if _, ok := changes[f.Name]; ok && f.Matched {
			return true
		}
	}
	for k := range changes {
		if strings.HasPrefix(k, CustomPrefix) {
			return true
		}
	}
	return false
}

// CheckFieldNames reports, under prefix+name, every name that is not a field of the registry.
func CheckFieldNames(errs *db.FieldErrors, prefix string, names []string) {
	for _, name := range names {
		if FieldByName(name) == nil {
			errs.Add(prefix+name, "is not a contact field (one of %s)", strings.Join(FieldNames(), ", "))
		}
	}
}

// contactColumns are the columns scanContact reads, for a query over contacts c.
var contactColumns = func() string {
	cols := []string{"c.id"}
	for _, f := range Fields {
		cols = append(cols, "c."+f.Column)
	}
	cols = append(cols, "c.status", "c.preferences", "c.version", "c.email_normalized", "c.phone_e164",
		"c.phone_extension", "c.phone_valid", "c.normalized_at", "c.created_at", "c.updated_at", "c.merged_into",
		"c.custom_fields", "c.extra", "c.contact_type")
	return strings.Join(cols, ", ")
}()

// Columns returns the columns ScanContact reads, qualified by the alias (for example "c").
func Columns(alias string) string {
	if alias == "c" {
		return contactColumns
	}
	return strings.ReplaceAll(contactColumns, "c.", alias+".")
}

// ScanContact scans a row of Columns.
func ScanContact(row interface{ Scan(...any) error }) (*Contact, error) {
	var c Contact
	if err := row.Scan(ScanTargets(&c)...); err != nil {
		return nil, err
	}
	return &c, nil
}

// scanContactRow is ScanContact as a pgx.RowToFunc, for pgx.CollectRows.
func scanContactRow(r pgx.CollectableRow) (*Contact, error) { return ScanContact(r) }

// byID indexes contacts by id.
func byID(cs []*Contact) map[uuid.UUID]*Contact {
	out := make(map[uuid.UUID]*Contact, len(cs))
	for _, c := range cs {
		out[c.ID] = c
	}
	return out
}

// ScanTargets returns where a row of Columns scans into c, for queries that read more columns
// after them.
func ScanTargets(c *Contact) []any {
	targets := make([]any, 0, len(Fields)+16)
	targets = append(targets, &c.ID)
	for _, f := range Fields {
		targets = append(targets, f.Ptr(&c.Values))
	}
	return append(targets, &c.Status, &c.Preferences, &c.Version, &c.Normalized.Email, &c.Normalized.Phone,
		&c.Normalized.PhoneExtension, &c.Normalized.PhoneValid, &c.Normalized.At, &c.CreatedAt, &c.UpdatedAt,
		&c.MergedInto, &c.Custom, &c.Extra, &c.ExplicitType)
}

// fieldArgs are v's fields in registry order, the arguments after the fixed ones of
// insertContactSQL and updateContactSQL.
func fieldArgs(v *Values) []any {
	out := make([]any, len(Fields))
	for i, f := range Fields {
		out[i] = f.Get(v)
	}
	return out
}

// fieldParams lists the registry's columns and their parameters, numbered from first.
func fieldParams(first int) (cols, params, sets []string) {
	for i, f := range Fields {
		p := "$" + strconv.Itoa(first+i)
		cols, params, sets = append(cols, f.Column), append(params, p), append(sets, f.Column+" = "+p)
	}
	return cols, params, sets
}

// insertContactSQL creates a contact: $1 id, $2 preferences, $3 the normalized email, $4 the
// key of the duplicate check (null: none), $5 custom fields, $6 the explicit type, then the
// fields; it inserts nothing when the check finds an active contact with the address.
var insertContactSQL = func() string {
	cols, params, _ := fieldParams(7)
	return `INSERT INTO contacts (id, preferences, email_normalized, custom_fields, contact_type, ` + strings.Join(cols, ", ") + `)
		SELECT $1, $2, $3, $5, $6, ` + strings.Join(params, ", ") + `
		WHERE $4::text IS NULL OR NOT EXISTS (
			SELECT 1 FROM contacts WHERE lower(email_normalized) = $4 AND status = 'active' AND email_normalized IS NOT NULL)
		RETURNING created_at, updated_at`
}()

// updateContactSQL writes a contact's fields: $1 id, $2 preferences, $3 the normalized email,
// $4-$6 the normalized phone, its extension and validity, $7 custom fields, $8 the explicit
// type, then the fields.
var updateContactSQL = func() string {
	_, _, sets := fieldParams(9)
	return `UPDATE contacts SET preferences = $2, email_normalized = $3, phone_e164 = $4, phone_extension = $5,
			phone_valid = $6, custom_fields = $7, contact_type = $8, ` + strings.Join(sets, ", ") + `,
			version = version + 1, updated_at = now()
		WHERE id = $1 RETURNING version, updated_at`
}()

// fieldColumns lists the registry's columns, qualified by alias.
func fieldColumns(alias string) string {
	cols := make([]string, len(Fields))
	for i, f := range Fields {
		cols[i] = alias + "." + f.Column
	}
	return strings.Join(cols, ", ")
}

// fieldTargets are where a scan of fieldColumns puts v's fields.
func fieldTargets(v *Values) []any {
	out := make([]any, len(Fields))
	for i, f := range Fields {
		out[i] = f.Ptr(v)
	}
	return out
}
