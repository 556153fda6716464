package api

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/contactd/contactd/internal/db"
	"github.com/gin-gonic/gin"
)

// Problem is an RFC 9457 problem details document.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Errors lists every invalid field of a validation problem.
	Errors []problemField `json:"errors,omitempty"`
	// ExistingContactID names the contact a duplicate would collide with (409).
	ExistingContactID string `json:"existingContactId,omitempty"`
	// RequestID ties the answer to the server's log.
	RequestID string `json:"requestId,omitempty"`
}

type problemField struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// problemTypes maps a status to its problem type URI and title.
var problemTypes = map[int][2]string{
	http.StatusBadRequest:            {"https://contactd.dev/problems/bad-request", "Bad request"},
	http.StatusUnauthorized:          {"https://contactd.dev/problems/unauthorized", "Unauthorized"},
	http.StatusForbidden:             {"https://contactd.dev/problems/forbidden", "Forbidden"},
	http.StatusNotFound:              {"https://contactd.dev/problems/not-found", "Not found"},
	http.StatusMethodNotAllowed:      {"https://contactd.dev/problems/method-not-allowed", "Method not allowed"},
	http.StatusConflict:              {"https://contactd.dev/problems/conflict", "Conflict"},
	http.StatusGone:                  {"https://contactd.dev/problems/gone", "Gone"},
	http.StatusPreconditionFailed:    {"https://contactd.dev/problems/precondition-failed", "Precondition failed"},
	http.StatusRequestEntityTooLarge: {"https://contactd.dev/problems/too-large", "Request body too large"},
	http.StatusUnsupportedMediaType:  {"https://contactd.dev/problems/unsupported-media-type", "Unsupported media type"},
	http.StatusUnprocessableEntity:   {"https://contactd.dev/problems/validation", "Invalid request"},
	http.StatusTooManyRequests:       {"https://contactd.dev/problems/rate-limited", "Too many requests"},
	http.StatusInternalServerError:   {"https://contactd.dev/problems/internal", "Internal error"},
	http.StatusServiceUnavailable:    {"https://contactd.dev/problems/unavailable", "Service unavailable"},
}

// kindStatus is the one table from domain error kinds to HTTP statuses.
var kindStatus = map[db.Kind]int{
	db.KindInvalid:            http.StatusUnprocessableEntity,
	db.KindNotFound:           http.StatusNotFound,
	db.KindConflict:           http.StatusConflict,
	db.KindPreconditionFailed: http.StatusPreconditionFailed,
	db.KindUnauthorized:       http.StatusUnauthorized,
	db.KindForbidden:          http.StatusForbidden,
	db.KindUnavailable:        http.StatusServiceUnavailable,
	db.KindTooManyRequests:    http.StatusTooManyRequests,
	db.KindGone:               http.StatusGone,
	db.KindSuppressed:         http.StatusConflict,
}

// kindTypes are the problem types of kinds that share their status with another kind.
var kindTypes = map[db.Kind][2]string{
	db.KindSuppressed: {"https://contactd.dev/problems/suppressed", "Suppressed"},
}

// unavailableRetryAfter is the Retry-After (seconds) of a 503 answered while the database is
// unreachable: long enough for a restart or failover to finish, short enough to recover soon.
const unavailableRetryAfter = "2"

// writeProblem answers status with a problem document.
func writeProblem(c *gin.Context, status int, detail string, fields ...problemField) {
	p := newProblem(c, status, detail)
	p.Errors = fields
	sendProblem(c, p)
}

func newProblem(c *gin.Context, status int, detail string) *Problem {
	t := problemTypes[status]
	if t[0] == "" {
		t = [2]string{"about:blank", http.StatusText(status)}
	}
	return &Problem{Type: t[0], Title: t[1], Status: status, Detail: detail, RequestID: c.GetString(requestIDKey)}
}

func sendProblem(c *gin.Context, p *Problem) {
	if p.Status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="contactd"`)
	}
	c.Header("Content-Type", "application/problem+json")
	c.AbortWithStatusJSON(p.Status, p)
}

// writeError answers a domain error with its problem document. An error that says the
// database cannot be reached (db.Unreachable) is logged as a warning and answered 503 with
// Retry-After: the client's cue to send the same request again. Other errors (and a domain
// error of a kind no status answers, such as KindInternal) are logged with the request id to
// the server's logger (logError) and answered 500 (503 for a cancelled request) without their
// details: a bug, never the client's input.
func writeError(c *gin.Context, err error) {
	if db.ErrorKind(err) == db.KindUnavailable {
		logError(c, slog.LevelWarn, "database unavailable", slog.Int("status", http.StatusServiceUnavailable), slog.Any("err", err))
		c.Header("Retry-After", unavailableRetryAfter)
		writeProblem(c, http.StatusServiceUnavailable, "the database is unreachable; retry after a moment")
		return
	}
	var de *db.Error
	if errors.As(err, &de) && kindStatus[de.Kind] != 0 {
		status := kindStatus[de.Kind]
		p := newProblem(c, status, de.Message)
		if t, ok := kindTypes[de.Kind]; ok {
			p.Type, p.Title = t[0], t[1]
		}
		for _, f := range de.Fields {
			p.Errors = append(p.Errors, problemField(f))
		}
		p.ExistingContactID = de.ExistingID
		sendProblem(c, p)
		return
	}
	status, level := http.StatusInternalServerError, slog.LevelError
	detail := "an internal error occurred; quote the request id when reporting it"
	if c.Request.Context().Err() != nil {
		status, level = http.StatusServiceUnavailable, slog.LevelWarn
		detail = "the service is unavailable or the request was cancelled"
	}
	logError(c, level, "request failed", slog.Int("status", status), slog.Any("err", err))
	writeProblem(c, status, detail)
}
