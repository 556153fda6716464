package contactfile

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Row is one contact read from a file. Field values are trimmed of
// surrounding white space but otherwise as the file had them: validating and
// normalizing them is the caller's business.
type Row struct {
	// Index is the 0-based position of the record among the file's records,
	// counting records that were row errors; it is what Reader.Skip counts.
	Index int
	// Line is the 1-based physical line where the record starts (for vCard,
	// the BEGIN:VCARD line).
	Line int
	// ExternalID is the record's id in its source: an externalId or id
	// column (or a recognised variant such as HubSpot's "Record ID"), a
	// vCard UID, or else 32 hex digits of a SHA-256 of the mapped fields,
	// trimmed and lower-cased, so that the same record read twice gets the
	// same id (and two identical records in one file share it).
	ExternalID string
	FirstName  string
	LastName   string
	// Email is the primary (preferred or first) email address; Emails holds
	// the others, in file order.
	Email  string
	Emails []string
	// Phone is the primary (preferred or first) phone number; Phones holds
	// the others, in file order.
	Phone  string
	Phones []string
	Title  string
	// Company is the organization's name (for vCard ORG, its first
	// component).
	Company string
	// Street, City, Region, PostalCode and Country are the postal address
	// (for vCard, the preferred ADR; a street of several lines is joined by
	// ", ").
	Street, City, Region, PostalCode, Country string
	// ExternalIDs are "source:id" references as contactd's own exports
	// write them: a CSV externalIds column (";"-separated), an NDJSON
	// externalIds array, vCard X-CONTACTD-EXTERNAL-ID properties.
	ExternalIDs []string
	// Extra holds the non-empty values of unmapped columns (NDJSON keys,
	// vCard properties) by their name in the file; nil when there are none.
	Extra map[string]string
	// Tags are the record's tags: a CSV tags column (";"-separated), vCard
	// CATEGORIES, an NDJSON tags array; trimmed, in file order.
	Tags []string
	// Custom holds custom field values by key, as text (a multi-valued one
	// joined by ";"): an NDJSON customFields object, vCard X-CONTACTD-<KEY>
	// properties (CustomKey); nil when there is none. CSV columns of custom
	// fields arrive in Extra under their column name.
	Custom map[string]string
}

// addTags appends the non-empty, trimmed parts of v split at sep.
func (r *Row) addTags(v, sep string) {
	for s := range strings.SplitSeq(v, sep) {
		if s = strings.TrimSpace(s); s != "" {
			r.Tags = append(r.Tags, s)
		}
	}
}

// RowError reports a record that could not be read. It is not fatal: the
// Reader goes on with the next record.
type RowError struct {
	// Line is the 1-based physical line of the problem.
	Line int
	// Field names the field or column at fault, or is empty when the record
	// as a whole is.
	Field string
	// Message says what is wrong, for a person.
	Message string
}

// Error implements error.
func (e *RowError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Message)
	}
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Field, e.Message)
}

// FileError reports a malformed file: reading cannot go on. Rows returned
// before it are good.
type FileError struct {
	// Line is the 1-based physical line where the file broke.
	Line int
	// Err is the cause, such as ErrInvalidUTF8 or a *csv.ParseError.
	Err error
}

// Error implements error.
func (e *FileError) Error() string {
	return fmt.Sprintf("contactfile: line %d: %v", e.Line, e.Err)
}

// Unwrap returns the cause.
func (e *FileError) Unwrap() error { return e.Err }

// Causes of a FileError.
var (
	// ErrInvalidUTF8 means the file is not UTF-8 encoded.
	ErrInvalidUTF8 = errors.New("invalid UTF-8: the file must be UTF-8 encoded")
	// ErrNoHeader means a CSV file has no header row.
	ErrNoHeader = errors.New("no header row")
	// ErrUnterminatedCard means a vCard has no END:VCARD before the file ends.
	ErrUnterminatedCard = errors.New("card has no END:VCARD")
	// ErrNotVCard means a line outside a card is not BEGIN:VCARD.
	ErrNotVCard = errors.New("expected BEGIN:VCARD")
)

// idHasher derives stable external ids from a row's mapped content.
type idHasher struct {
	h   hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

func newIDHasher() *idHasher { return &idHasher{h: sha256.New()} }

// hashedIDLen is how many hex digits of the SHA-256 a derived id keeps
// (128 bits).
const hashedIDLen = 32

// id returns the hex-encoded, truncated SHA-256 of the row's mapped fields,
// each trimmed and lower-cased, so case and spacing changes do not alter it.
func (x *idHasher) id(r *Row) string {
	x.h.Reset()
	x.buf = x.buf[:0]
	for _, s := range [...]string{r.FirstName, r.LastName, r.Email, r.Phone, r.Title, r.Company} {
		x.buf = appendFolded(x.buf, s)
		x.buf = append(x.buf, 0x1f)
	}
	for _, s := range r.Emails {
		x.buf = appendFolded(x.buf, s)
		x.buf = append(x.buf, 0x1e)
	}
	x.buf = append(x.buf, 0x1f)
	for _, s := range r.Phones {
		x.buf = appendFolded(x.buf, s)
		x.buf = append(x.buf, 0x1e)
	}
	x.h.Write(x.buf)
	x.h.Sum(x.sum[:0])
	return hex.EncodeToString(x.sum[:hashedIDLen/2])
}

// appendFolded appends s trimmed and lower-cased.
func appendFolded(dst []byte, s string) []byte {
	s = strings.TrimSpace(s)
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
		i += n
	}
	return dst
}

// finish fills the derived parts of a row: the name split from a full name
// and the hashed id.
func (x *idHasher) finish(r *Row, fullName string) {
	if r.FirstName == "" && r.LastName == "" && fullName != "" {
		r.FirstName, r.LastName = splitFullName(fullName)
	}
	if r.ExternalID == "" {
		r.ExternalID = x.id(r)
	}
}

// splitFullName splits "Ada King Lovelace" into "Ada King" and "Lovelace";
// a single word is a first name.
func splitFullName(s string) (first, last string) {
	s = strings.TrimSpace(s)
	i := strings.LastIndexFunc(s, unicode.IsSpace)
	if i < 0 {
		return s, ""
	}
	return strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:])
}

// addEmail sets the primary email or appends another.
func (r *Row) addEmail(s string) {
	if s == "" {
		return
	}
	if r.Email == "" {
		r.Email = s
		return
	}
	r.Emails = append(r.Emails, s)
}

// addPhone sets the primary phone or appends another.
func (r *Row) addPhone(s string) {
	if s == "" {
		return
	}
	if r.Phone == "" {
		r.Phone = s
		return
	}
	r.Phones = append(r.Phones, s)
}

// setExtra records an unmapped value.
func (r *Row) setExtra(k, v string) {
	if v == "" {
		return
	}
	if r.Extra == nil {
		r.Extra = make(map[string]string)
	}
	if old, ok := r.Extra[k]; ok {
		v = old + "\n" + v
	}
	r.Extra[k] = v
}

// addressPart returns where the row keeps an address field.
func (r *Row) addressPart(f Field) *string {
	switch f {
	case FieldStreet:
		return &r.Street
	case FieldCity:
		return &r.City
	case FieldRegion:
		return &r.Region
	case FieldPostalCode:
		return &r.PostalCode
	default:
		return &r.Country
	}
}

// oneLine joins the lines of a multi-line value (a street) with ", ".
func oneLine(v string) string {
	if !strings.ContainsAny(v, "\r\n") {
		return strings.TrimSpace(v)
	}
	var parts []string
	for _, l := range strings.FieldsFunc(v, func(r rune) bool { return r == '\r' || r == '\n' }) {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, ", ")
}
