package erasure_test

import (
	"testing"

	"github.com/contactd/contactd/internal/apptest"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// BenchmarkEraseBatch erases batches of 10 contacts from a database of 20,000 contacts with
// 20,000 import error rows and 2,000 stored responses to scan, and reports contacts erased a
// second (make bench-erasure). The scans test every row against the people's values as regular
// expressions: a batch of 500 people took over 16 minutes on 20,000 error rows (PostgreSQL
// recompiles regular expressions beyond its cache of 32), so retention erases in small batches
// until the scans match tokens instead.
func BenchmarkEraseBatch(b *testing.B) {
	const batch = 10
	bd := apptest.New(b)
	_, err := bd.Pool.Exec(bd.Ctx, `
		INSERT INTO contacts (id, first_name, last_name, email, phone, email_normalized, phone_e164)
		SELECT gen_random_uuid(), 'First' || i, 'Last' || i, 'p' || i || '@example.com', '+1415555' || lpad(i::text, 4, '0'),
			'p' || i || '@example.com', '+1415555' || lpad(i::text, 4, '0') FROM generate_series(1, 20000) i;
		INSERT INTO imports (id, source, format, file_sha256, file_size, mode, default_region, actor)
		VALUES ('00000000-0000-0000-0000-000000000001', 'b', 'csv', 'x', 1, 'skip', 'US', 'bench');
		INSERT INTO import_errors (import_id, row_index, seq, line, field, message)
		SELECT '00000000-0000-0000-0000-000000000001', i, 1, i + 1, 'externalIds', '"x' || i || '@example.org" is not a source:id reference'
		FROM generate_series(1, 20000) i;
		INSERT INTO idempotency_keys (api_key_id, key, request_hash, status, body, locked_until, expires_at)
		SELECT gen_random_uuid(), 'k' || i, '\x00', 201, convert_to('{"id": "' || gen_random_uuid() || '"}', 'UTF8'), now(), now() + interval '1 day'
		FROM generate_series(1, 2000) i`)
	if err != nil {
		b.Fatal(err)
	}
	rows, err := bd.Pool.Query(bd.Ctx, `SELECT id FROM contacts ORDER BY id`)
	if err != nil {
		b.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	erased := 0
	for i := 0; i < b.N; i++ {
		if len(ids) < batch {
			b.Fatalf("out of contacts after %d batches", i)
		}
		if err := bd.App.Erasure.Erase(bd.Ctx, ids[:batch], "bench"); err != nil {
			b.Fatal(err)
		}
		ids, erased = ids[batch:], erased+batch
	}
	b.ReportMetric(float64(erased)/b.Elapsed().Seconds(), "contacts/s")
}
