package main

import (
	"strings"
	"testing"
)

// TestRateLimitConfig: the rate limit's defaults, overrides and refusals.
func TestRateLimitConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env       map[string]string
		limit     float64
		burst     int
		wantError string
	}{
		{env: nil, limit: 100, burst: 200},
		{env: map[string]string{"CONTACTD_RATE_LIMIT": "0"}, limit: 0, burst: 200},
		{env: map[string]string{"CONTACTD_RATE_LIMIT": "2.5", "CONTACTD_RATE_BURST": "5"}, limit: 2.5, burst: 5},
		{env: map[string]string{"CONTACTD_RATE_LIMIT": "-1"}, wantError: "CONTACTD_RATE_LIMIT"},
		{env: map[string]string{"CONTACTD_RATE_LIMIT": "NaN"}, wantError: "CONTACTD_RATE_LIMIT"},
		{env: map[string]string{"CONTACTD_RATE_BURST": "0"}, wantError: "CONTACTD_RATE_BURST"},
		{env: map[string]string{"CONTACTD_RATE_BURST": "many"}, wantError: "CONTACTD_RATE_BURST"},
	}
	for _, tt := range tests {
		c, err := loadConfig(func(k string) string { return tt.env[k] })
		if tt.wantError != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantError) {
				t.Errorf("%v: error %v, want one naming %s", tt.env, err, tt.wantError)
			}
			continue
		}
		if err != nil || c.RateLimit != tt.limit || c.RateBurst != tt.burst {
			t.Errorf("%v: limit %v burst %d (%v), want %v and %d", tt.env, c.RateLimit, c.RateBurst, err, tt.limit, tt.burst)
		}
	}
}
