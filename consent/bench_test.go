package consent_test

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/contactd/contactd/consent"
	"github.com/google/uuid"
)

// BenchmarkReachableMany measures bulk reachability of 10,000 contacts (the API's limit) over a
// database of 50,000 contacts with 100,000 consent events, a tenth of the asked contacts with
// merged records: it reports the p50 and p95 latency of one call, in milliseconds. Run it with
// make bench-reachability (target: p95 under 50 ms).
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
	// CONSENT_EXPLAIN=1 prints the plan of the query that answers most contacts.
	if os.Getenv("CONSENT_EXPLAIN") != "" {
		rows, err := bb.pool.Query(bb.ctx, "EXPLAIN (ANALYZE, BUFFERS) "+consent.SimpleSQL, ask, "email", "marketing")
		if err != nil {
			b.Fatal(err)
		}
		for rows.Next() {
			var line string
			_ = rows.Scan(&line)
			fmt.Println(line)
		}
		rows.Close()
	}
	// Warm the caches once.
	if _, err := bb.cs.ReachableMany(bb.ctx, ask, "email", "marketing"); err != nil {
		b.Fatal(err)
	}
	var took []time.Duration
	for b.Loop() {
		start := time.Now()
		as, err := bb.cs.ReachableMany(bb.ctx, ask, "email", "marketing")
		took = append(took, time.Since(start))
		if err != nil || len(as) != asked {
			b.Fatalf("%d answers, %v", len(as), err)
		}
	}
	slices.Sort(took)
	pct := func(p float64) float64 {
		return float64(took[int(p*float64(len(took)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.95), "p95-ms")
	b.ReportMetric(0, "ns/op")
	fmt.Printf("bulk reachability of %d ids over %d contacts: %d calls, p50 %.1f ms, p95 %.1f ms\n", asked, contacts, len(took), pct(0.50), pct(0.95))
}
