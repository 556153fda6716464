package db

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// Kind classifies a domain error so that callers (the API) can map it to a response.
type Kind int

// The kinds of domain error.
const (
	KindInternal           Kind = iota // a bug or an unavailable dependency
	KindInvalid                        // the input breaks a rule; Fields says which
	KindNotFound                       // the entity does not exist
	KindConflict                       // the change conflicts with existing data
	KindPreconditionFailed             // an If-Match version is stale
	KindUnauthorized                   // no or unknown credentials
	KindForbidden                      // credentials lack the scope
	KindUnavailable                    // the database cannot be reached; retrying later may work
	KindTooManyRequests                // the caller is over its rate limit
	KindGone                           // what was asked for existed but is gone for good (erased, or deleted by retention)
	KindSuppressed                     // the person is on the suppression list (erased or withdrew everything)
)

// FieldError names one invalid input field (in the API's camelCase path notation, such as
// "relationships[0].entityId") and why it is invalid.
type FieldError struct {
	Field   string
	Message string
}

// Error is a domain error with a kind, a message safe to show a client, and details. Every
// domain package returns it for what a client can correct; anything else is internal.
type Error struct {
	Kind    Kind
	Message string
	// Fields lists every invalid field for KindInvalid.
	Fields []FieldError
	// ExistingID names the entity a KindConflict collides with, when there is one.
	ExistingID string
}

// Error returns the message, with the first invalid field when there are any.
func (e *Error) Error() string {
	if len(e.Fields) > 0 {
		return fmt.Sprintf("%s (%d invalid fields, first %s: %s)", e.Message, len(e.Fields), e.Fields[0].Field, e.Fields[0].Message)
	}
	return e.Message
}

// ErrorKind returns the kind of err: its own for a domain error, KindUnavailable for an error
// that says the database cannot be reached (see Unreachable), KindInternal for anything else.
func ErrorKind(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	if Unreachable(err) {
		return KindUnavailable
	}
	return KindInternal
}

// Unreachable reports whether err says that the database could not be reached or went away
// mid-request, as opposed to refusing a statement: a failed connect (refused, reset, DNS, TLS),
// a connection that broke, a pool that is closed, an acquire that timed out, or PostgreSQL
// shutting down or starting up (SQLSTATE class 08, 57P01-57P03). A statement PostgreSQL
// answered with an error (a constraint, a syntax error) is not unreachable.
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	// A failed connect is unreachable whatever the server said (too many clients, a database
	// not accepting connections, shutting down).
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" ||
			pgErr.Code == "57P03" || pgErr.Code == "53300"
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return true
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	// pgx reports a connection it found broken (conn busy/closed) with plain errors.
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "closed pool") ||
		strings.Contains(msg, "failed to connect") || strings.Contains(msg, "unexpected EOF")
}

// NotFound returns a KindNotFound error with a formatted message.
func NotFound(format string, args ...any) error {
	return &Error{Kind: KindNotFound, Message: fmt.Sprintf(format, args...)}
}

// Gone returns a KindGone error with a formatted message.
func Gone(format string, args ...any) error {
	return &Error{Kind: KindGone, Message: fmt.Sprintf(format, args...)}
}

// Conflict returns a KindConflict error with a formatted message.
func Conflict(format string, args ...any) error {
	return &Error{Kind: KindConflict, Message: fmt.Sprintf(format, args...)}
}

// FieldErrors collects validation failures so that every wrong field is reported at once.
type FieldErrors []FieldError

// Add records that field is invalid, with a formatted reason.
func (f *FieldErrors) Add(field, format string, args ...any) {
	*f = append(*f, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Err returns a KindInvalid error listing the fields, or nil when there are none.
func (f FieldErrors) Err() error {
	if len(f) == 0 {
		return nil
	}
	return &Error{Kind: KindInvalid, Message: "the request has invalid fields", Fields: f}
}

// Invalid returns a KindInvalid error for one field.
func Invalid(field, format string, args ...any) error {
	var f FieldErrors
	f.Add(field, format, args...)
	return f.Err()
}

// The SQLSTATEs the stores act on.
const (
	CodeUniqueViolation      = "23505"
	CodeFKViolation          = "23503"
	CodeSerializationFailure = "40001"
	CodeDeadlockDetected     = "40P01"
)

// Code returns the SQLSTATE of a PostgreSQL error, or "".
func Code(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}
