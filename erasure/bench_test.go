package erasure_test

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/contactd/contactd/internal/apptest"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// BenchmarkEraseBatch erases batches of ERASURE_BATCH contacts (default 10) from a database of
// ERASURE_CONTACTS contacts (default 20,000), each with its create audit entry and change
// event, as many import error rows quoting other people's emails, 2,000 stored responses and
// 2,000 failed River jobs to look through, and reports contacts erased a second (make
// bench-erasure). The copies are found through indexes (trigram on texts, contact ids on
// events), so a batch's cost follows the rows that hold its people, not the tables' sizes.
func BenchmarkEraseBatch(b *testing.B) {
	batch, n := envInt(b, "ERASURE_BATCH", 10), envInt(b, "ERASURE_CONTACTS", 20000)
	bd := apptest.New(b)
	_, err := bd.Pool.Exec(bd.Ctx, fmt.Sprintf(`
		INSERT INTO contacts (id, first_name, last_name, email, phone, email_normalized, phone_e164)
		SELECT gen_random_uuid(), 'First' || i, 'Last' || i, 'p' || i || '@example.com', '+1415' || lpad(i::text, 7, '0'),
			'p' || i || '@example.com', '+1415' || lpad(i::text, 7, '0') FROM generate_series(1, %[1]d) i;
		INSERT INTO audit_log (actor, action, entity_type, entity_id, contact_id, changes)
		SELECT 'bench', 'create', 'contact', id, id, jsonb_build_object('email', jsonb_build_object('before', null, 'after', email))
		FROM contacts;
		INSERT INTO imports (id, source, format, file_sha256, file_size, mode, default_region, actor)
		VALUES ('00000000-0000-0000-0000-000000000001', 'b', 'csv', 'x', 1, 'skip', 'US', 'bench');
		INSERT INTO import_errors (import_id, row_index, seq, line, field, message)
		SELECT '00000000-0000-0000-0000-000000000001', i, 1, i + 1, 'externalIds', '"x' || i || '@example.org" is not a source:id reference'
		FROM generate_series(1, %[1]d) i;
		INSERT INTO idempotency_keys (api_key_id, key, request_hash, status, body, locked_until, expires_at)
		SELECT gen_random_uuid(), 'k' || i, '\x00', 201, convert_to('{"id": "' || gen_random_uuid() || '"}', 'UTF8'), now(), now() + interval '1 day'
		FROM generate_series(1, 2000) i;
		INSERT INTO river_job (args, kind, state, attempt, finalized_at, errors)
		SELECT '{}', 'normalize_contact', 'discarded', 1, now(), ARRAY[jsonb_build_object('error', 'cannot normalize x' || i || '@example.org')]
		FROM generate_series(1, 2000) i`, n))
	if err != nil {
		b.Fatal(err)
	}
	// The steady state autovacuum keeps: GIN indexes' pending lists merged (search's index of
	// company and title words would otherwise be read whole by every lookup of a name word).
	if _, err := bd.Pool.Exec(bd.Ctx, `VACUUM ANALYZE`); err != nil {
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
	fmt.Printf("erasure: %d batches of %d over %d contacts: %.1f s a batch, %.0f contacts/s\n",
		b.N, batch, n, b.Elapsed().Seconds()/float64(b.N), float64(erased)/b.Elapsed().Seconds())
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}
