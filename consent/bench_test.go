package consent_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/contactd/contactd/api"
	"github.com/contactd/contactd/auth"
	"github.com/contactd/contactd/consent"
	"github.com/google/uuid"
)

// BenchmarkReachableMany measures bulk reachability of 10,000 contacts (the API's limit) over a
// database of 50,000 contacts with 100,000 consent events, a tenth of the asked contacts with
// merged records. It reports the p50 and p95 latency, in milliseconds, of POST /api/reachability
// as a caller sees it (over loopback HTTP, through the real router, from sending the body to
// having read the whole answer) and of the store call alone. Run it with make bench-reachability (target: p95 under
// 50 ms).
func BenchmarkReachableMany(b *testing.B) {
	bb := setup(b)
	const contacts, asked = 50000, 10000
	// Fixture rows straight in SQL: building 50,000 contacts through the API would take
	// minutes, and what is measured is the read.
	bb.exec(b, `INSERT INTO contacts (id, first_name, email, email_normalized, phone, phone_e164, phone_valid, preferences, created_at)
		SELECT gen_random_uuid(), 'c' || g, 'c' || g || '@example.com', 'c' || g || '@example.com', '+14155550100', '+14155550100', true,
			CASE WHEN g % 17 = 0 THEN '{"frequency": "never"}'::jsonb
			     WHEN g % 23 = 0 THEN '{"timeZone": "Asia/Tokyo", "quietHours": {"start": "00:00", "end": "23:59"}}'::jsonb
			     ELSE '{}'::jsonb END,
			now() - g * interval '1 second'
		FROM generate_series(1, $1) g`, contacts)
	// Every contact granted marketing by email a while ago, every third withdrew since, and some
	// have events on other channels and purposes.
	bb.exec(b, `INSERT INTO consent_events (id, contact_id, channel, purpose, status, lawful_basis, source, captured_at, actor)
		SELECT gen_random_uuid(), c.id, 'email', 'marketing', 'granted', 'consent', 'form', now() - interval '30 days', 'bench' FROM contacts c`)
	bb.exec(b, `INSERT INTO consent_events (id, contact_id, channel, purpose, status, lawful_basis, source, captured_at, actor)
		SELECT gen_random_uuid(), c.id, 'email', 'marketing', 'withdrawn', 'consent', 'unsubscribe_link', now() - interval '1 day', 'bench'
		FROM (SELECT id, row_number() OVER (ORDER BY id) n FROM contacts) c WHERE n % 3 = 0`)
	bb.exec(b, `INSERT INTO consent_events (id, contact_id, channel, purpose, status, lawful_basis, source, captured_at, actor)
		SELECT gen_random_uuid(), c.id, 'sms', 'service', 'granted', 'contract', 'import', now() - interval '10 days', 'bench'
		FROM (SELECT id, row_number() OVER (ORDER BY id) n FROM contacts) c WHERE n % 3 = 1`)
	// The events went in behind the store's back: their contacts' consent state is not known
	// until RefreshStates computes it (as after the migration that added the state).
	bb.exec(b, `UPDATE contacts SET consent_state = NULL`)
	start := time.Now()
	refreshed, err := bb.cs.RefreshStates(bb.ctx)
	if err != nil {
		b.Fatal(err)
	}
	refreshTook := time.Since(start)
	ids := make([]uuid.UUID, 0, contacts)
	rows, err := bb.pool.Query(bb.ctx, `SELECT id FROM contacts ORDER BY id`)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			b.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	// Merge one in ten of the asked contacts' neighbours into them, through the merge store.
	for i := 0; i < asked; i += 10 {
		bb.merge(b, ids[i], ids[asked+i])
	}
	bb.exec(b, `VACUUM ANALYZE`)
	ask := ids[:asked]
	// The API as a caller sees it: the real router behind a loopback HTTP server, a JSON body
	// of 10,000 ids, the whole answer read and decoded.
	_, token, err := bb.app.Auth.Create(bb.ctx, "bench", []auth.Scope{auth.ScopeWrite})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(api.NewRouter(api.Config{App: bb.app, Logger: slog.New(slog.DiscardHandler)}))
	defer srv.Close()
	body, err := json.Marshal(map[string]any{"contactIds": ask, "channel": "email", "purpose": "marketing"})
	if err != nil {
		b.Fatal(err)
	}
	var got []byte
	viaHTTP := func() error {
		req, err := http.NewRequestWithContext(bb.ctx, http.MethodPost, srv.URL+"/api/reachability", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := srv.Client().Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		got, err = io.ReadAll(res.Body)
		if err != nil || res.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d, %v: %.300s", res.StatusCode, err, got)
		}
		return nil
	}
	// check decodes the last answer (after the clock stopped: what the caller then does with it
	// is theirs).
	check := func() {
		var out struct {
			Results []struct {
				ContactID string `json:"contactId"`
				Allowed   bool   `json:"allowed"`
				Reason    string `json:"reason"`
			} `json:"results"`
		}
		if err := json.Unmarshal(got, &out); err != nil || len(out.Results) != asked {
			b.Fatalf("%d answers, %v", len(out.Results), err)
		}
	}
	viaStore := func() error {
		as, err := bb.cs.ReachableMany(bb.ctx, ask, "email", "marketing")
		if err == nil && len(as) != asked {
			err = fmt.Errorf("%d answers", len(as))
		}
		return err
	}
	// Warm the caches once.
	if err := viaStore(); err != nil {
		b.Fatal(err)
	}
	if err := viaHTTP(); err != nil {
		b.Fatal(err)
	}
	// CONSENT_EXPLAIN=1 prints the plan, warm, of the statement that answers the contacts, over
	// one of the two parts the store splits the ask into.
	if os.Getenv("CONSENT_EXPLAIN") != "" {
		explain(b, bb, "SET LOCAL plan_cache_mode = force_generic_plan; SET LOCAL jit = off", consent.ManySQL, ask[:asked/2], "email/marketing")
	}
	var store, whole []time.Duration
	for b.Loop() {
		for _, m := range []struct {
			f    func() error
			took *[]time.Duration
		}{{viaStore, &store}, {viaHTTP, &whole}} {
			start := time.Now()
			if err := m.f(); err != nil {
				b.Fatal(err)
			}
			*m.took = append(*m.took, time.Since(start))
		}
		check()
	}
	pct := func(took []time.Duration, p float64) float64 {
		slices.Sort(took)
		return float64(took[int(p*float64(len(took)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(whole, 0.50), "http-p50-ms")
	b.ReportMetric(pct(whole, 0.95), "http-p95-ms")
	b.ReportMetric(pct(store, 0.50), "store-p50-ms")
	b.ReportMetric(pct(store, 0.95), "store-p95-ms")
	b.ReportMetric(0, "ns/op")
	fmt.Printf("consent states of %d contacts with events computed (RefreshStates) in %s\n", refreshed, refreshTook.Round(time.Millisecond))
	fmt.Printf("bulk reachability of %d ids over %d contacts, %d calls each:\n", asked, contacts, len(store))
	fmt.Printf("  POST /api/reachability over loopback HTTP (body sent, whole answer read): p50 %.1f ms, p95 %.1f ms\n",
		pct(whole, 0.50), pct(whole, 0.95))
	fmt.Printf("  consent.Store.ReachableMany alone (the SQL and the rules): p50 %.1f ms, p95 %.1f ms\n",
		pct(store, 0.50), pct(store, 0.95))
}

// explain prints the plan of sql (EXPLAIN ANALYZE, BUFFERS) run with args in a transaction that
// first runs set.
func explain(b *testing.B, bb bundle, set, sql string, args ...any) {
	b.Helper()
	conn, err := bb.pool.Begin(bb.ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Rollback(bb.ctx) //nolint:errcheck
	if _, err := conn.Exec(bb.ctx, set); err != nil {
		b.Fatal(err)
	}
	rows, err := conn.Query(bb.ctx, "EXPLAIN (ANALYZE, BUFFERS) "+sql, args...)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			b.Fatal(err)
		}
		if len(line) > 200 {
			line = line[:200] + "…"
		}
		fmt.Println(line)
	}
}
