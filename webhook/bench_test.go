package webhook_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/contactd/contactd/event"
	"github.com/contactd/contactd/webhook"
)

// BenchmarkDelivery measures webhook delivery on loopback through one stream (one worker at a
// time per webhook): events/s for a burst of 5,000 events committed together, and the time from
// commit to the receiver for 500 events committed one at a time at 200/s (p50, p99).
// make bench-webhooks runs it.
func BenchmarkDelivery(b *testing.B) {
	bundle := setup(b, webhook.DefaultBackoff...)
	var mu sync.Mutex
	arrived := map[int]time.Time{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var msg struct {
			Data struct {
				I int `json:"i"`
			} `json:"data"`
		}
		if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
			b.Error(err)
		}
		mu.Lock()
		arrived[msg.Data.I] = time.Now()
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(srv.Close)
	if _, err := bundle.App.Webhooks.Create(bundle.Ctx, webhook.NewWebhook{URL: srv.URL, Events: []string{event.ImportFinished}}); err != nil {
		b.Fatal(err)
	}
	emit := func(from, to int) time.Time {
		tx, err := bundle.Pool.Begin(bundle.Ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer tx.Rollback(bundle.Ctx) //nolint:errcheck // a no-op after Commit
		for i := from; i < to; i++ {
			if err := event.Emit(bundle.Ctx, tx, event.ImportFinished, nil, map[string]int{"i": i}); err != nil {
				b.Fatal(err)
			}
		}
		if err := tx.Commit(bundle.Ctx); err != nil {
			b.Fatal(err)
		}
		return time.Now()
	}
	waitFor := func(n int) {
		for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			mu.Lock()
			got := len(arrived)
			mu.Unlock()
			if got >= n {
				return
			}
		}
		b.Fatalf("only %d of %d events arrived", len(arrived), n)
	}

	next := 0
	for b.Loop() {
		const burst, paced = 5000, 500
		start := next
		committed := emit(start, start+burst)
		next += burst
		waitFor(next)
		mu.Lock()
		var last time.Time
		for i := start; i < next; i++ {
			if arrived[i].After(last) {
				last = arrived[i]
			}
		}
		mu.Unlock()
		b.ReportMetric(float64(burst)/last.Sub(committed).Seconds(), "events/s")

		commits := map[int]time.Time{}
		for i := next; i < next+paced; i++ {
			commits[i] = emit(i, i+1)
			time.Sleep(5 * time.Millisecond)
		}
		next += paced
		waitFor(next)
		mu.Lock()
		var lat []time.Duration
		for i, c := range commits {
			lat = append(lat, arrived[i].Sub(c))
		}
		mu.Unlock()
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}
