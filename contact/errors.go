package contact

import (
	"errors"
	"fmt"
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

// Error is a domain error with a kind, a message safe to show a client, and details.
type Error struct {
	Kind    Kind
	Message string
	// Fields lists every invalid field for KindInvalid.
	Fields []FieldError
	// ExistingID names the entity a KindConflict collides with, when there is one.
	ExistingID string
}

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

func notFound(format string, args ...any) error {
	return &Error{Kind: KindNotFound, Message: fmt.Sprintf(format, args...)}
}

// fieldErrors collects validation failures so that every wrong field is reported at once.
type fieldErrors []FieldError

func (f *fieldErrors) add(field, format string, args ...any) {
	*f = append(*f, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (f fieldErrors) err() error {
	if len(f) == 0 {
		return nil
	}
	return &Error{Kind: KindInvalid, Message: "the request has invalid fields", Fields: f}
}
