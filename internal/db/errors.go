package db

import (
	"errors"
	"fmt"

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

// ErrorKind returns the kind of err, KindInternal for errors that are not domain errors.
func ErrorKind(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// NotFound returns a KindNotFound error with a formatted message.
func NotFound(format string, args ...any) error {
	return &Error{Kind: KindNotFound, Message: fmt.Sprintf(format, args...)}
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
