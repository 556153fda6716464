package importer

import (
	"fmt"
	"strings"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/contactfile"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/matcher"
	"github.com/contactd/contactd/tag"
	"github.com/google/uuid"
)

// MaxExternalIDLen bounds an external id.
const MaxExternalIDLen = 255

// ImportMode says what an import does with a row whose (source, external id) is already known.
type ImportMode string

// The import modes.
const (
	ImportSkip      ImportMode = "skip"      // leave the existing contact alone
	ImportFill      ImportMode = "fill"      // set the existing contact's empty fields
	ImportOverwrite ImportMode = "overwrite" // replace the existing contact's fields with the row's non-empty values
)

// ImportStatus is an import's lifecycle state.
type ImportStatus string

// The import statuses.
const (
	ImportQueued    ImportStatus = "queued"
	ImportRunning   ImportStatus = "running"
	ImportSucceeded ImportStatus = "succeeded"
	ImportFailed    ImportStatus = "failed"
	ImportCancelled ImportStatus = "cancelled"
)

// Import is one bulk import of a file and its progress.
type Import struct {
	ID              uuid.UUID
	Source          string
	Format          string
	FileName        *string
	FileSHA256      string
	FileSize        int64
	Mode            ImportMode
	DefaultRegion   string
	Mapping         map[string]string
	Status          ImportStatus
	NextRow         int64 // file records committed so far (processed)
	TotalRows       *int64
	Created         int64
	Updated         int64
	Skipped         int64
	Failed          int64
	UnmappedColumns []string
	Error           *string
	CancelRequested bool
	Actor           string
	CreatedAt       time.Time
	StartedAt       *time.Time
	FinishedAt      *time.Time
	HeartbeatAt     *time.Time
}

// RowsPerSecond is the import's processing rate so far (0 before it starts).
func (im *Import) RowsPerSecond(now time.Time) float64 {
	if im.StartedAt == nil {
		return 0
	}
	end := now
	if im.FinishedAt != nil {
		end = *im.FinishedAt
	}
	secs := end.Sub(*im.StartedAt).Seconds()
	if secs <= 0 {
		return 0
	}
	return float64(im.NextRow) / secs
}

// NewImport describes an import to create.
type NewImport struct {
	Source        string
	Format        string
	FileName      string
	FileSHA256    string
	FileSize      int64
	Mode          ImportMode
	DefaultRegion string
	Mapping       map[string]string
}

// ImportRow is a validated, normalized record ready to store.
type ImportRow struct {
	Index      int64
	Line       int
	ExternalID string
	// Values are the record's contact fields (see contact.Fields).
	contact.Values
	Normalized contact.Normalized
	Extra      map[string]any
	OtherRefs  []ExternalRef
	// Tags are the record's tags, cleaned.
	Tags []string
	// Custom are an NDJSON record's customFields, as text by key; CSV columns of custom fields
	// are in Extra until the batch is written (they are matched against the definitions then).
	Custom map[string]string
	// CustomValues are the record's custom values, validated against the definitions when its
	// batch is written.
	CustomValues contact.CustomValues
}

// ExternalRef is a contact's identity in an external source.
type ExternalRef struct {
	Source, ID string
}

// ImportRowError is a record that could not be imported, with its line and reason.
type ImportRowError struct {
	Index   int64
	Line    int
	Field   string
	Message string
}

// PrepareImportRow validates a record as the reader gave it, as the API validates a new contact,
// and normalizes its email and phone (an unparseable phone is kept and flagged). Its further
// emails and phones and its unmapped values go to the contact's extra data; its "source:id"
// references (the externalIds column of contactd's own export) become external references. It
// returns the row's errors when it cannot be stored.
func PrepareImportRow(in *contactfile.Row, defaultRegion string) (ImportRow, []ImportRowError) {
	index := int64(in.Index)
	if len(in.ExternalID) > MaxExternalIDLen {
		return ImportRow{}, []ImportRowError{{Index: index, Line: in.Line, Field: "externalId", Message: fmt.Sprintf("must be at most %d bytes", MaxExternalIDLen)}}
	}
	nc := contact.NewContact{FirstName: in.FirstName, LastName: in.LastName, Email: in.Email, Phone: in.Phone, Title: in.Title,
		Company: in.Company, Street: in.Street, City: in.City, Region: in.Region, PostalCode: in.PostalCode, Country: in.Country,
		KeepUnparseablePhone: true}
	if err := nc.Validate(); err != nil {
		de := err.(*db.Error)
		errs := make([]ImportRowError, len(de.Fields))
		for i, f := range de.Fields {
			errs[i] = ImportRowError{Index: index, Line: in.Line, Field: f.Field, Message: f.Message}
		}
		return ImportRow{}, errs
	}
	row := ImportRow{Index: index, Line: in.Line, ExternalID: in.ExternalID, Values: nc.Values(), Custom: in.Custom}
	if len(in.Tags) > 0 {
		tags, errs := tag.Clean(in.Tags, "tags")
		if len(errs) > 0 {
			out := make([]ImportRowError, len(errs))
			for i, e := range errs {
				out[i] = ImportRowError{Index: index, Line: in.Line, Field: e.Field, Message: e.Message}
			}
			return ImportRow{}, out
		}
		row.Tags = tags
	}
	for _, ref := range in.ExternalIDs {
		src, id, ok := strings.Cut(ref, ":")
		if !ok || src == "" || id == "" || len(id) > MaxExternalIDLen || len(src) > 100 {
			return ImportRow{}, []ImportRowError{{Index: index, Line: in.Line, Field: "externalIds", Message: fmt.Sprintf("%q is not a source:id reference", ref)}}
		}
		row.OtherRefs = append(row.OtherRefs, ExternalRef{Source: src, ID: id})
	}
	row.Normalized.Email = contact.EmailKey(row.Email)
	if row.Phone != nil {
		p := matcher.NormalizePhone(*row.Phone, defaultRegion)
		row.Normalized.Phone, row.Normalized.PhoneExtension, row.Normalized.PhoneValid = contact.Nullable(p.E164), contact.Nullable(p.Extension), &p.Valid
	}
	if len(in.Emails) > 0 || len(in.Phones) > 0 || len(in.Extra) > 0 {
		row.Extra = map[string]any{}
		if len(in.Emails) > 0 {
			row.Extra["emails"] = in.Emails
		}
		if len(in.Phones) > 0 {
			row.Extra["phones"] = in.Phones
		}
		if len(in.Extra) > 0 {
			row.Extra["fields"] = in.Extra
		}
	}
	return row, nil
}

// ImportBatch is a run of consecutive file records, committed together with the import's
// progress: records [FirstRow, NextRow) are Rows or Errors.
type ImportBatch struct {
	FirstRow, NextRow int64
	Rows              []ImportRow
	Errors            []ImportRowError
	// UnmappedColumns, when set, records the file's unmapped columns.
	UnmappedColumns []string
}
