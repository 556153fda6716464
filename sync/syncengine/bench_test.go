package syncengine_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/contactd/contactd/internal/apptest"
	"github.com/contactd/contactd/internal/fakedata"
	"github.com/contactd/contactd/internal/runs"
	"github.com/contactd/contactd/sync/source"
)

// BenchmarkPull measures a first pull (every record created) and a full resync of unchanged
// records (every record skipped by its content hash), in records per second, over
// SYNC_BENCH_RECORDS records (default 2,000; `make bench-sync` pulls 10,000):
//
//	go test ./sync/syncengine -run '^$' -bench Pull -benchtime 3x
func BenchmarkPull(b *testing.B) {
	const pageSize = 500
	records := 2000
	if n, err := strconv.Atoi(os.Getenv("SYNC_BENCH_RECORDS")); err == nil && n > 0 {
		records = n
	}
	for _, mode := range []string{"create", "unchanged"} {
		b.Run(mode, func(b *testing.B) {
			bb := apptest.New(b)
			iter := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				from, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
				items := make([]map[string]any, 0, pageSize)
				for i := from; i < min(from+pageSize, records); i++ {
					// Varied names, as real data has: blocks of look-alikes stay small.
					first := fakedata.FirstNames[(i*7+iter*13)%len(fakedata.FirstNames)]
					last := fakedata.LastNames[(i*31+iter*17)%len(fakedata.LastNames)]
					items = append(items, map[string]any{"id": fmt.Sprintf("%d-%d", iter, i), "first": first,
						"last": last, "email": fmt.Sprintf("%s.%s.%d.%d@example.com", first, last, iter, i)})
				}
				out := map[string]any{"data": items}
				if from+pageSize < records {
					out["next"] = strconv.Itoa(from + pageSize)
				}
				_ = json.NewEncoder(w).Encode(out)
			}))
			b.Cleanup(srv.Close)
			src, err := bb.App.Sources.Create(bb.Ctx, source.NewSource{Type: "http", Name: "bench", Config: json.RawMessage(fmt.Sprintf(
				`{"url": %q, "itemsPath": "data", "idPath": "id", "cursorParam": "cursor", "nextCursorPath": "next",
				"fieldMapping": {"firstName": "first", "lastName": "last", "email": "email"}}`, srv.URL))})
			if err != nil {
				b.Fatal(err)
			}
			pull := func() *source.Run {
				run, _, err := bb.App.Sources.StartRun(bb.Ctx, src.ID, true)
				if err != nil {
					b.Fatal(err)
				}
				out, err := bb.App.Sync.Run(bb.Ctx, run.ID, nil)
				if err != nil || out.Status != runs.Succeeded {
					b.Fatalf("run %+v: %v", out, err)
				}
				return out
			}
			if mode == "unchanged" {
				pull()
			}
			var took time.Duration
			b.ResetTimer()
			for b.Loop() {
				if mode == "create" {
					iter++
				}
				start := time.Now()
				pull()
				took += time.Since(start)
			}
			b.ReportMetric(float64(records*b.N)/took.Seconds(), "records/s")
			b.ReportMetric(took.Seconds()/float64(b.N), "s/pull")
		})
	}
}
