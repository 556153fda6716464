package api

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/contactd/contactd/contactfile"
	"github.com/contactd/contactd/importer"
	"github.com/gin-gonic/gin"
	"github.com/nyaruka/phonenumbers"
)

type importJSON struct {
	ID              string     `json:"id"`
	Status          string     `json:"status"`
	Source          string     `json:"source"`
	Format          string     `json:"format"`
	FileName        *string    `json:"fileName"`
	FileSize        int64      `json:"fileSize"`
	Mode            string     `json:"mode"`
	DefaultRegion   string     `json:"defaultRegion"`
	TotalRows       *int64     `json:"totalRows"`
	Processed       int64      `json:"processed"`
	Created         int64      `json:"created"`
	Updated         int64      `json:"updated"`
	Skipped         int64      `json:"skipped"`
	Failed          int64      `json:"failed"`
	RowsPerSecond   float64    `json:"rowsPerSecond"`
	UnmappedColumns []string   `json:"unmappedColumns"`
	Error           *string    `json:"error"`
	CancelRequested bool       `json:"cancelRequested"`
	CreatedAt       time.Time  `json:"createdAt"`
	StartedAt       *time.Time `json:"startedAt"`
	FinishedAt      *time.Time `json:"finishedAt"`
}

type importErrorJSON struct {
	Line    int    `json:"line"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func toImportJSON(im *importer.Import) importJSON {
	return importJSON{
		ID: im.ID.String(), Status: string(im.Status), Source: im.Source, Format: im.Format, FileName: im.FileName,
		FileSize: im.FileSize, Mode: string(im.Mode), DefaultRegion: im.DefaultRegion, TotalRows: im.TotalRows,
		Processed: im.NextRow, Created: im.Created, Updated: im.Updated, Skipped: im.Skipped, Failed: im.Failed,
		RowsPerSecond: float64(int64(im.RowsPerSecond(time.Now())*10)) / 10, UnmappedColumns: im.UnmappedColumns,
		Error: im.Error, CancelRequested: im.CancelRequested, CreatedAt: im.CreatedAt, StartedAt: im.StartedAt,
		FinishedAt: im.FinishedAt,
	}
}

// importOptions reads the import options from the query string and, for a multipart upload,
// from the form fields before the file part.
type importOptions struct {
	values map[string]string
}

func (o *importOptions) get(name string) string { return o.values[name] }

// createImport takes a file as a multipart upload (part "file"; option fields before it) or as
// the raw body, stores it and enqueues its import: 202 with the import.
func (s *server) createImport(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, s.maxUpload)
	opts := importOptions{values: map[string]string{}}
	for _, k := range []string{"format", "source", "mode", "region", "mapping", "fileName"} {
		if v, ok := c.GetQuery(k); ok {
			opts.values[k] = v
		}
	}
	var file io.Reader = c.Request.Body
	contentType := c.GetHeader("Content-Type")
	fileName := opts.get("fileName")
	if mt, params, err := mime.ParseMediaType(contentType); err == nil && mt == "multipart/form-data" {
		part, err := fileFromMultipart(multipart.NewReader(c.Request.Body, params["boundary"]), &opts)
		if err != nil {
			writeProblem(c, http.StatusBadRequest, err.Error())
			return
		}
		file, contentType = part, part.Header.Get("Content-Type")
		if fileName == "" {
			fileName = part.FileName()
		}
	}
	var errs []problemField
	region := strings.ToUpper(strings.TrimSpace(opts.get("region")))
	if region == "" {
		region = s.defaultRegion
	} else if _, ok := phonenumbers.GetSupportedRegions()[region]; !ok {
		errs = append(errs, problemField{"region", "is not a region code (such as US, GB, DE)"})
	}
	mapping, err := contactfile.ParseMapping(opts.get("mapping"))
	if err != nil {
		errs = append(errs, problemField{"mapping", err.Error()})
	}
	br := bufio.NewReaderSize(file, 64<<10)
	var format contactfile.Format
	if f := opts.get("format"); f != "" {
		if format, err = contactfile.ParseFormat(f); err != nil {
			errs = append(errs, problemField{"format", "must be csv, ndjson or vcard"})
		}
	} else {
		head, err := br.Peek(512)
		if err != nil && !errors.Is(err, io.EOF) {
			// A file shorter than 512 bytes ends in EOF; anything else is the upload failing.
			writeUploadError(c, fmt.Errorf("%w: %w", importer.ErrUpload, err))
			return
		}
		if len(head) == 0 {
			writeProblem(c, http.StatusUnprocessableEntity, "the file is empty", problemField{"file", "is empty"})
			return
		}
		if format, err = contactfile.DetectFormat(fileName, contentType, head); err != nil {
			errs = append(errs, problemField{"format", "could not be detected; name it: csv, ndjson or vcard"})
		}
	}
	if len(errs) > 0 {
		writeProblem(c, http.StatusUnprocessableEntity, "the import has invalid options", errs...)
		return
	}
	im, err := s.app.Imports.CreateImport(c.Request.Context(), importer.NewImport{
		Source: cmp.Or(strings.TrimSpace(opts.get("source")), "api"), Format: string(format), FileName: fileName,
		Mode: importer.ImportMode(strings.ToLower(opts.get("mode"))), DefaultRegion: region, Mapping: mapping,
	}, br)
	if err != nil {
		writeUploadError(c, err)
		return
	}
	c.Header("Location", "/api/imports/"+im.ID.String())
	c.JSON(http.StatusAccepted, toImportJSON(im))
}

// writeUploadError answers an error met reading or importing an upload: 413 over the cap, 400
// for an upload that could not be read to its end, as writeError otherwise.
func writeUploadError(c *gin.Context, err error) {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeProblem(c, http.StatusRequestEntityTooLarge, fmt.Sprintf("the file must be at most %d bytes", tooBig.Limit))
	case errors.Is(err, importer.ErrUpload):
		writeProblem(c, http.StatusBadRequest, "the upload could not be read to its end")
	default:
		writeError(c, err)
	}
}

// fileFromMultipart reads option fields up to the part named "file" and returns that part.
func fileFromMultipart(mr *multipart.Reader, opts *importOptions) (*multipart.Part, error) {
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, errors.New(`the multipart body has no part named "file"`)
		}
		if err != nil {
			return nil, fmt.Errorf("the multipart body is malformed: %v", err)
		}
		name := part.FormName()
		if name == "file" {
			return part, nil
		}
		v, err := io.ReadAll(io.LimitReader(part, 64<<10))
		if err != nil {
			return nil, fmt.Errorf("the multipart body is malformed: %v", err)
		}
		opts.values[name] = string(v)
	}
}

func (s *server) getImport(c *gin.Context) {
	id, ok := pathID(c, "id", "import")
	if !ok {
		return
	}
	var errs []problemField
	after := int64(-1)
	if cur := c.Query("errorsCursor"); cur != "" {
		v, err := strconv.ParseInt(cur, 10, 64)
		if err != nil || v < 0 {
			errs = append(errs, problemField{"errorsCursor", "is not a cursor this endpoint gave"})
		}
		after = v
	}
	limit := 100
	if l := c.Query("errorsLimit"); l != "" {
		v, err := strconv.Atoi(l)
		if err != nil || v < 1 || v > 1000 {
			errs = append(errs, problemField{"errorsLimit", "must be a whole number from 1 to 1000"})
		}
		limit = v
	}
	if len(errs) > 0 {
		writeProblem(c, http.StatusUnprocessableEntity, "the query has invalid parameters", errs...)
		return
	}
	im, err := s.app.Imports.GetImport(c.Request.Context(), id)
	if err != nil {
		writeError(c, err)
		return
	}
	rowErrs, more, err := s.app.Imports.ImportErrors(c.Request.Context(), id, after, limit)
	if err != nil {
		writeError(c, err)
		return
	}
	out := make([]importErrorJSON, 0, len(rowErrs))
	for _, e := range rowErrs {
		out = append(out, importErrorJSON{Line: e.Line, Field: e.Field, Message: e.Message})
	}
	var next *string
	if more {
		n := strconv.FormatInt(rowErrs[len(rowErrs)-1].Index, 10)
		next = &n
	}
	c.JSON(http.StatusOK, gin.H{"import": toImportJSON(im), "errors": out, "errorsNextCursor": next})
}

func (s *server) listImports(c *gin.Context) {
	limit, before, errs := pageParams(c)
	if len(errs) > 0 {
		writeProblem(c, http.StatusUnprocessableEntity, "the query has invalid parameters", errs...)
		return
	}
	imports, next, err := s.app.Imports.ListImports(c.Request.Context(), before, limit)
	if err != nil {
		writeError(c, err)
		return
	}
	data := make([]importJSON, 0, len(imports))
	for _, im := range imports {
		data = append(data, toImportJSON(im))
	}
	c.JSON(http.StatusOK, gin.H{"data": data, "nextCursor": encodeCursor(next)})
}

func (s *server) cancelImport(c *gin.Context) {
	id, ok := pathID(c, "id", "import")
	if !ok {
		return
	}
	im, err := s.app.Imports.CancelImport(c.Request.Context(), id)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusAccepted, toImportJSON(im))
}
