package httpsource

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/contactd/contactd/sync/source"
)

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		header string
		want   time.Duration
	}{
		{"3", 3 * time.Second},
		{"0", 0},
		{"", time.Second}, // no header: backoff of the first attempt
		{"soon", time.Second},
	} {
		if got := retryAfter(tc.header, 1); got != tc.want {
			t.Errorf("Retry-After %q: %s, want %s", tc.header, got, tc.want)
		}
	}
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	if got := retryAfter(date, 1); got < 80*time.Second || got > 91*time.Second {
		t.Errorf("Retry-After %q: %s, want about 90s", date, got)
	}
}

// TestUpdatedSincePaging pages by updated-since alone: an incremental pass starts an overlap
// before the last change seen, and pages within a pass start at the page's latest change.
func TestUpdatedSincePaging(t *testing.T) {
	t.Parallel()
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		since := r.URL.Query().Get("since")
		asked = append(asked, since)
		var items []map[string]any
		for _, u := range []string{"2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z", "2026-01-01T03:00:00Z"} {
			if since == "" || u > since {
				items = append(items, map[string]any{"id": u, "u": u, "e": "x@example.com"})
			}
		}
		if len(items) > 2 {
			items = items[:2]
		}
		_ = json.NewEncoder(w).Encode(items)
	}))
	t.Cleanup(srv.Close)
	cfg, _ := json.Marshal(Config{URL: srv.URL, IDPath: "id", UpdatedPath: "u", UpdatedSinceParam: "since", PageSize: 2,
		Overlap: "30m", FieldMapping: map[string]string{"email": "e"}})
	conn, err := New(&source.Source{Config: cfg}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var cp json.RawMessage
	var pages int
	for {
		page, err := conn.Changes(context.Background(), cp)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		cp = page.Checkpoint
		if !page.More {
			break
		}
	}
	if pages != 2 || string(cp) != `{"since":"2026-01-01T03:00:00Z"}` {
		t.Fatalf("%d pages, checkpoint %s", pages, cp)
	}
	if _, err := conn.Changes(context.Background(), cp); err != nil {
		t.Fatal(err)
	}
	want := []string{"", "2026-01-01T02:00:00Z", "2026-01-01T02:30:00Z"}
	if len(asked) != 3 || asked[0] != want[0] || asked[1] != want[1] || asked[2] != want[2] {
		t.Fatalf("asked since %q, want %q", asked, want)
	}
}
