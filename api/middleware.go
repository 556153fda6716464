package api

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

const requestIDKey = "requestID"

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// requestID takes a sane X-Request-Id from the client or makes one, and echoes it.
func requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader("X-Request-Id")
		if !validRequestID.MatchString(id) {
			b := make([]byte, 8)
			_, _ = rand.Read(b) // crypto/rand.Read never fails: it crashes the program instead
			id = hex.EncodeToString(b)
		}
		c.Set(requestIDKey, id)
		c.Header("X-Request-Id", id)
		c.Next()
	}
}

// accessLog logs one line per request: route template, status and duration, never the query
// string or body (they may carry emails and phones).
func accessLog(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		level := slog.LevelInfo
		if c.Writer.Status() >= 500 {
			level = slog.LevelError
		}
		logger.LogAttrs(c.Request.Context(), level, "request",
			slog.String("request_id", c.GetString(requestIDKey)),
			slog.String("method", c.Request.Method),
			slog.String("route", route),
			slog.Int("status", c.Writer.Status()),
			slog.Float64("ms", float64(time.Since(start).Microseconds())/1000))
	}
}

// metrics counts requests and their durations by route for Prometheus.
func metrics(reg prometheus.Registerer) gin.HandlerFunc {
	hist := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "contactd_http_request_duration_seconds",
		Help:    "HTTP request durations by route, method and status.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	}, []string{"route", "method", "status"})
	if err := reg.Register(hist); err != nil {
		if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
			hist = are.ExistingCollector.(*prometheus.HistogramVec)
		}
	}
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		hist.WithLabelValues(route, c.Request.Method, strconv.Itoa(c.Writer.Status())).Observe(time.Since(start).Seconds())
	}
}

const loggerKey = "logger"

// recovery makes logger the request's error log (see logError: every internal error of the
// request reaches it with the request id) and turns a panic into a logged 500 problem instead
// of a dropped connection.
func recovery(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Set(loggerKey, logger)
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				logError(c, slog.LevelError, "panic", slog.String("panic", fmt.Sprint(r)))
				if !c.Writer.Written() {
					writeProblem(c, http.StatusInternalServerError, "an internal error occurred; quote the request id when reporting it")
				}
			}
		}()
		c.Next()
	}
}

// logError logs what went wrong with a request, with its request id, to the server's logger
// (api.Config.Logger, which recovery hands every request). It is the one way handlers log
// errors.
func logError(c *gin.Context, level slog.Level, msg string, attrs ...slog.Attr) {
	v, _ := c.Get(loggerKey)
	logger, ok := v.(*slog.Logger)
	if !ok {
		// Only a handler run outside NewRouter's chain has none; its error still reaches a log.
		logger = slog.Default()
	}
	attrs = append([]slog.Attr{slog.String("request_id", c.GetString(requestIDKey))}, attrs...)
	logger.LogAttrs(c.Request.Context(), level, msg, attrs...)
}

// limitBody caps request bodies; reading past the cap fails and the handler answers 413.
// Import uploads have their own, larger cap; batch writes take up to batchMaxBodyBytes.
func limitBody(max int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.Method == http.MethodPost && c.FullPath() == "/api/imports" {
			c.Next()
			return
		}
		max := max
		if c.Request.Method == http.MethodPost && c.FullPath() == "/api/contacts/batch" {
			max = batchMaxBodyBytes
		}
		if c.Request.ContentLength > max {
			writeProblem(c, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body must be at most %d bytes", max))
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, max)
		c.Next()
	}
}

// rejectMalformedQuery answers 400 when the query string cannot be decoded, naming each
// parameter that cannot. Gin's query helpers read URL.Query, which silently drops such
// parameters: without this check a malformed cursor would be served as the first page.
func rejectMalformedQuery() gin.HandlerFunc {
	return func(c *gin.Context) {
		if bad := malformedQuery(c.Request.URL.RawQuery); len(bad) > 0 {
			writeProblem(c, http.StatusBadRequest, "the query string is malformed: every parameter must be URL-encoded and separated by &", bad...)
			return
		}
		c.Next()
	}
}

// malformedQuery lists the parameters of a raw query string that url.ParseQuery refuses, each
// named by its decoded name when that decodes (else as sent), in the order sent.
func malformedQuery(raw string) []problemField {
	var bad []problemField
	for pair := range strings.SplitSeq(raw, "&") {
		if _, err := url.ParseQuery(pair); err != nil {
			name, _, _ := strings.Cut(pair, "=")
			if n, err := url.QueryUnescape(name); err == nil {
				name = n
			}
			bad = append(bad, problemField{Field: name, Message: "cannot be decoded: " + err.Error()})
		}
	}
	return bad
}
