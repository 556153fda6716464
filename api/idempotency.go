package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/contactd/contactd/auth"
	"github.com/contactd/contactd/idempotency"
	"github.com/contactd/contactd/internal/db"
	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
)

// idempotencyHeader is the request header that makes a POST safe to retry.
const idempotencyHeader = "Idempotency-Key"

// maxIdempotencyKeyLen bounds a client's key, in bytes.
const maxIdempotencyKeyLen = 255

// replayedHeaders are the response headers stored with a response and sent again on replay.
var replayedHeaders = []string{"Content-Type", "Location", "ETag"}

// idempotent makes a POST that carries an Idempotency-Key do its work once: the first request
// with a key claims it and its response (unless a 5xx: then the key is released so that a retry
// does the work) is stored for 24 hours; a repeat with the same method, path, query and body
// gets that response again (Idempotent-Replayed: true), with another request 422, and while
// the first one runs 409 with Retry-After. Keys are per API key. It runs after authenticate.
func (s *server) idempotent(c *gin.Context) {
	key := c.GetHeader(idempotencyHeader)
	if c.Request.Method != http.MethodPost || key == "" {
		c.Next()
		return
	}
	if len(key) > maxIdempotencyKeyLen || !printableASCII(key) {
		writeProblem(c, http.StatusUnprocessableEntity, "the Idempotency-Key header is invalid",
			problemField{idempotencyHeader, fmt.Sprintf("must be 1 to %d printable ASCII characters", maxIdempotencyKeyLen)})
		return
	}
	v, _ := c.Get(apiKeyKey)
	k, ok := v.(*auth.APIKey)
	if !ok {
		c.Next()
		return
	}
	hash, ok := requestHash(c)
	if !ok {
		return
	}
	store := s.app.Idempotency
	outcome, resp, err := store.Begin(c.Request.Context(), k.ID, key, hash)
	if err != nil {
		writeError(c, err)
		return
	}
	switch outcome {
	case idempotency.Replay:
		for name, value := range resp.Headers {
			c.Header(name, value)
		}
		c.Header("Idempotent-Replayed", "true")
		c.Status(resp.Status)
		if _, err := c.Writer.Write(resp.Body); err != nil {
			logError(c, slog.LevelWarn, "replay response", slog.Any("err", err))
		}
		c.Abort()
		return
	case idempotency.InProgress:
		c.Header("Retry-After", "1")
		writeProblem(c, http.StatusConflict, "a request with this Idempotency-Key is in progress; retry after a moment")
		return
	case idempotency.Done:
		writeProblem(c, http.StatusConflict, "the first request with this Idempotency-Key did its work, but its response was lost "+
			"(the server stopped before storing it); the work was not done again: read the result with a GET")
		return
	case idempotency.Mismatch:
		writeProblem(c, http.StatusUnprocessableEntity, "this Idempotency-Key was used with a different request",
			problemField{idempotencyHeader, "was sent before with another method, path, query or body"})
		return
	}

	// The work's transactions record that the key's work is done, with the work.
	c.Request = c.Request.WithContext(db.WithBeforeCommit(c.Request.Context(), func(ctx context.Context, tx pgx.Tx) error {
		return idempotency.MarkWorkTx(ctx, tx, k.ID, key)
	}))
	w := &capturingWriter{ResponseWriter: c.Writer}
	c.Writer = w
	completed := false
	defer func() {
		if completed {
			return
		}
		// A panic (answered 500 by recovery) or an aborted handler: let a retry do the work.
		if err := store.Release(context.WithoutCancel(c.Request.Context()), k.ID, key); err != nil {
			logError(c, slog.LevelError, "release idempotency key", slog.Any("err", err))
		}
	}()
	c.Next()
	status := w.Status()
	if status >= http.StatusInternalServerError {
		return
	}
	r := idempotency.Response{Status: status, Headers: map[string]string{}, Body: w.buf.Bytes()}
	for _, h := range replayedHeaders {
		if v := w.Header().Get(h); v != "" {
			r.Headers[h] = v
		}
	}
	if err := store.Complete(context.WithoutCancel(c.Request.Context()), k.ID, key, r); err != nil {
		logError(c, slog.LevelError, "store idempotent response", slog.Any("err", err))
		return
	}
	completed = true
}

// requestHash fingerprints what makes two requests the same: method, path, query and body. An
// import upload (which may be a gigabyte, streamed) is fingerprinted by its type and length
// instead of its bytes. When the body cannot be read it answers the request itself.
func requestHash(c *gin.Context) ([]byte, bool) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", c.Request.Method, c.Request.URL.Path, c.Request.URL.RawQuery)
	if c.FullPath() == "/api/imports" {
		fmt.Fprintf(h, "%s\x00%s", c.GetHeader("Content-Type"), strconv.FormatInt(c.Request.ContentLength, 10))
		return h.Sum(nil), true
	}
	data, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeProblem(c, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body must be at most %d bytes", tooBig.Limit))
			return nil, false
		}
		writeProblem(c, http.StatusBadRequest, "the body could not be read")
		return nil, false
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(data))
	h.Write(data)
	return h.Sum(nil), true
}

func printableASCII(s string) bool {
	for i := range len(s) {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// capturingWriter keeps a copy of the body it writes.
type capturingWriter struct {
	gin.ResponseWriter
	buf bytes.Buffer
}

func (w *capturingWriter) Write(b []byte) (int, error) {
	w.buf.Write(b)
	return w.ResponseWriter.Write(b)
}

func (w *capturingWriter) WriteString(s string) (int, error) {
	w.buf.WriteString(s)
	return w.ResponseWriter.WriteString(s)
}
