package db

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestUnreachable: an error that says the database went away is unavailable; an error
// PostgreSQL answered a statement with, a cancelled request and a bug are not.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"bug", errors.New("contact: invariant broken"), false},
		{"cancelled", fmt.Errorf("contact: get: %w", context.Canceled), false},
		{"unique violation", fmt.Errorf("contact: insert: %w", &pgconn.PgError{Code: CodeUniqueViolation}), false},
		{"serialization failure", &pgconn.PgError{Code: CodeSerializationFailure}, false},
		{"admin shutdown", fmt.Errorf("contact: insert: %w", &pgconn.PgError{Code: "57P01"}), true},
		{"cannot connect now", &pgconn.PgError{Code: "57P03"}, true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"broken connection", fmt.Errorf("contact: list: %w", io.ErrUnexpectedEOF), true},
		{"refused", fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true},
		{"closed pool", errors.New("closed pool"), true},
		{"deadline while acquiring", fmt.Errorf("acquire: %w", context.DeadlineExceeded), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Unreachable(tt.err); got != tt.want {
				t.Errorf("Unreachable(%v) = %v, want %v", tt.err, got, tt.want)
			}
			if tt.want && ErrorKind(tt.err) != KindUnavailable {
				t.Errorf("ErrorKind(%v) = %v, want KindUnavailable", tt.err, ErrorKind(tt.err))
			}
		})
	}
}
