package api

import (
	"log/slog"
	"net/http"

	"github.com/contactd/contactd/contactfile"
	"github.com/contactd/contactd/importer"
	"github.com/gin-gonic/gin"
)

// exportContacts streams the contacts the list filters select as CSV, NDJSON or vCard.
func (s *server) exportContacts(c *gin.Context) {
	format, err := contactfile.ParseFormat(c.DefaultQuery("format", "csv"))
	f, errs, ok := s.listFilter(c, "format")
	if !ok {
		return
	}
	if err != nil {
		errs = append(errs, problemField{"format", "must be csv, ndjson or vcf"})
	}
	if len(errs) > 0 {
		writeProblem(c, http.StatusUnprocessableEntity, "the query has invalid parameters", errs...)
		return
	}
	c.Header("Content-Type", format.ContentType())
	c.Header("Content-Disposition", `attachment; filename="contacts`+format.Extension()+`"`)
	c.Status(http.StatusOK)
	n, err := importer.Export(c.Request.Context(), s.app.Contacts, f, format, c.Writer)
	if err != nil {
		// The status is sent: all that is left is to cut the stream short so the client sees
		// a truncated body rather than a complete-looking file.
		logError(c, slog.LevelError, "export failed", slog.Int("rows", n), slog.Any("err", err))
		panic(http.ErrAbortHandler)
	}
}
