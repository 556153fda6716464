package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/contactd/contactd/internal/db"
	"github.com/gin-gonic/gin"
)

// TestWriteError: a domain error a client can act on is answered with its status and message
// and not logged; anything else (a plain error, a domain error of a kind no status answers) is
// a 500 that shows nothing of the error and is logged to the request's logger with the request
// id; a cancelled request's is a 503, logged as a warning.
func TestWriteError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		err       error
		cancelled bool
		status    int
		level     string // "" when nothing must be logged
	}{
		{"not found", db.NotFound("contact x not found"), false, http.StatusNotFound, ""},
		{"plain error", errors.New("secret: connection refused"), false, http.StatusInternalServerError, "ERROR"},
		{"internal kind", &db.Error{Kind: db.KindInternal, Message: "secret: invariant broken"}, false, http.StatusInternalServerError, "ERROR"},
		{"cancelled", errors.New("secret: context canceled"), true, http.StatusServiceUnavailable, "WARN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			rec := httptest.NewRecorder()
			c, _ := gin.CreateTestContext(rec)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancelled {
				cancel()
			}
			c.Request = httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx)
			c.Set(requestIDKey, "req-1")
			c.Set(loggerKey, slog.New(slog.NewJSONHandler(&logs, nil)))

			writeError(c, tt.err)

			var p Problem
			if rec.Code != tt.status || json.Unmarshal(rec.Body.Bytes(), &p) != nil || p.RequestID != "req-1" {
				t.Fatalf("answered %d %s, want %d with the request id", rec.Code, rec.Body, tt.status)
			}
			if tt.level == "" {
				if logs.Len() != 0 {
					t.Errorf("a client's error was logged: %s", logs.String())
				}
				return
			}
			if strings.Contains(rec.Body.String(), "secret") {
				t.Errorf("the answer shows the error: %s", rec.Body)
			}
			var entry map[string]any
			if err := json.Unmarshal(logs.Bytes(), &entry); err != nil {
				t.Fatalf("log %q: %v", logs.String(), err)
			}
			if entry["level"] != tt.level || entry["request_id"] != "req-1" || !strings.Contains(entry["err"].(string), "secret") {
				t.Errorf("log entry %v, want %s with the request id and the error", entry, tt.level)
			}
		})
	}
}
