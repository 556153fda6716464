package main

import (
	"cmp"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/contactd/contactd/consent"
	"github.com/contactd/contactd/erasure"
	"github.com/contactd/contactd/sync/source"
	"github.com/nyaruka/phonenumbers"
)

// config is the process configuration, from the environment with flags on top; defaults are
// applied here and nowhere else.
type config struct {
	DatabaseURL   string
	Addr          string
	DefaultRegion string
	LogLevel      slog.Level
	MaxWorkers    int
	// ScanEvery schedules a full duplicate scan; zero (the default) never does.
	ScanEvery time.Duration
	// RateLimit is each API key's average requests a second (zero: no limit); RateBurst how
	// many it may send at once.
	RateLimit float64
	RateBurst int
	// Sealer encrypts sync sources' secrets, from CONTACTD_SECRET_KEY; nil without one.
	Sealer *source.Sealer
	// PublicURL is where clients reach the API, for the unsubscribe links it hands out.
	PublicURL string
	// UnsubscribeKey signs unsubscribe links; empty means a random key per process.
	UnsubscribeKey string
	// EventsRetention is how long the change feed keeps events; zero keeps them all.
	EventsRetention time.Duration
	// SuppressionKey keys the suppression list's HMACs; empty means a random key per process.
	SuppressionKey string
	// WebhookAllowPrivate lets webhooks reach loopback, private and link-local addresses.
	WebhookAllowPrivate bool
}

const defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/contactd?sslmode=disable"

func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		DatabaseURL:    cmp.Or(getenv("DATABASE_URL"), defaultDatabaseURL),
		Addr:           cmp.Or(getenv("CONTACTD_ADDR"), ":8080"),
		DefaultRegion:  strings.ToUpper(cmp.Or(getenv("CONTACTD_DEFAULT_REGION"), "US")),
		PublicURL:      strings.TrimRight(cmp.Or(getenv("CONTACTD_PUBLIC_URL"), "http://localhost:8080"), "/"),
		UnsubscribeKey: getenv("CONTACTD_UNSUBSCRIBE_KEY"),
		SuppressionKey: getenv("CONTACTD_SUPPRESSION_KEY"),
	}
	if c.SuppressionKey != "" && len(c.SuppressionKey) < erasure.MinKeyLen {
		return c, fmt.Errorf("CONTACTD_SUPPRESSION_KEY: want at least %d bytes (e.g. openssl rand -hex 32)", erasure.MinKeyLen)
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("CONTACTD_PUBLIC_URL: want an http or https URL such as https://crm.example.com")
	}
	if c.UnsubscribeKey != "" && len(c.UnsubscribeKey) < consent.MinKeyLen {
		return c, fmt.Errorf("CONTACTD_UNSUBSCRIBE_KEY: want at least %d bytes (e.g. openssl rand -hex 32)", consent.MinKeyLen)
	}
	if err := c.LogLevel.UnmarshalText([]byte(cmp.Or(getenv("CONTACTD_LOG_LEVEL"), "info"))); err != nil {
		return c, fmt.Errorf("CONTACTD_LOG_LEVEL: want debug, info, warn or error: %w", err)
	}
	maxWorkers, err := strconv.Atoi(cmp.Or(getenv("CONTACTD_MAX_WORKERS"), "100"))
	if err != nil || maxWorkers < 1 || maxWorkers > 10000 {
		return c, fmt.Errorf("CONTACTD_MAX_WORKERS: want a whole number from 1 to 10000")
	}
	c.MaxWorkers = maxWorkers
	if v := getenv("CONTACTD_DEDUPE_SCAN_EVERY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || (d > 0 && d < time.Minute) {
			return c, fmt.Errorf("CONTACTD_DEDUPE_SCAN_EVERY: want a duration of a minute or more, such as 24h (or 0 for never)")
		}
		c.ScanEvery = d
	}
	c.EventsRetention, err = time.ParseDuration(cmp.Or(getenv("CONTACTD_EVENTS_RETENTION"), "720h"))
	if err != nil || c.EventsRetention < 0 || (c.EventsRetention > 0 && c.EventsRetention < time.Hour) {
		return c, fmt.Errorf("CONTACTD_EVENTS_RETENTION: want a duration of an hour or more, such as 720h (or 0 to keep every event)")
	}
	rl, err := strconv.ParseFloat(cmp.Or(getenv("CONTACTD_RATE_LIMIT"), "100"), 64)
	if err != nil || rl < 0 || math.IsNaN(rl) || math.IsInf(rl, 0) {
		return c, fmt.Errorf("CONTACTD_RATE_LIMIT: want requests a second per API key, such as 100 (or 0 for no limit)")
	}
	c.RateLimit = rl
	burst, err := strconv.Atoi(cmp.Or(getenv("CONTACTD_RATE_BURST"), "200"))
	if err != nil || burst < 1 || burst > 1_000_000 {
		return c, fmt.Errorf("CONTACTD_RATE_BURST: want a whole number of requests from 1 to 1000000")
	}
	c.RateBurst = burst
	if v := getenv("CONTACTD_WEBHOOK_ALLOW_PRIVATE"); v != "" {
		allow, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("CONTACTD_WEBHOOK_ALLOW_PRIVATE: want true or false")
		}
		c.WebhookAllowPrivate = allow
	}
	if err := checkRegion(c.DefaultRegion); err != nil {
		return c, err
	}
	if c.Sealer, err = source.ParseKey(getenv(source.KeyEnv)); err != nil {
		return c, err
	}
	return c, nil
}

func checkRegion(region string) error {
	if _, ok := phonenumbers.GetSupportedRegions()[region]; !ok {
		return fmt.Errorf("CONTACTD_DEFAULT_REGION: %q is not a region code phonenumbers knows (such as US, GB, DE)", region)
	}
	return nil
}

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}
