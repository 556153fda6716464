package source_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/contactd/contactd/internal/apptest"
	"github.com/contactd/contactd/sync/source"
)

// BenchmarkPushCandidates measures finding a push's candidates (every page of
// Store.PushCandidates, as a run's push reads them) over a source with 5,000 and 50,000 linked
// contacts, each with two audit entries from before its last sync, after 1% of them (or 50)
// changed, half by an audited change (as a tag is), half by an updated row: looking at every
// link (a first push, "all") and at the contacts changed since the last push's watermark
// ("since"):
//
//	go test ./sync/source -run '^$' -bench PushCandidates -benchtime 5x
func BenchmarkPushCandidates(b *testing.B) {
	for _, c := range []struct {
		links, changed int
		since          bool
	}{{5000, 50, false}, {50000, 500, false}, {5000, 50, true}, {50000, 500, true}, {50000, 50, true}} {
		links, changed := c.links, c.changed
		b.Run(fmt.Sprintf("links=%d/changed=%d/%s", links, changed, map[bool]string{false: "all", true: "since"}[c.since]), func(b *testing.B) {
			bb := apptest.New(b)
			src, err := bb.App.Sources.Create(bb.Ctx, source.NewSource{Type: "http", Name: "bench",
				Config: json.RawMessage(`{"url": "https://api.example.com/people", "idPath": "id", "fieldMapping": {"email": "email"}}`)})
			if err != nil {
				b.Fatal(err)
			}
			for _, q := range []struct {
				sql  string
				args []any
			}{
				{`INSERT INTO contacts (id, first_name, email, created_at, updated_at)
					SELECT gen_random_uuid(), 'First' || g, 'c' || g || '@example.com', now() - interval '2 days', now() - interval '2 days'
					FROM generate_series(1, $1) g`, []any{links}},
				{`INSERT INTO audit_log (at, actor, action, entity_type, entity_id, contact_id)
					SELECT now() - interval '2 days', 'bench', a, 'contact', id, id FROM contacts, unnest(ARRAY['create', 'update']) a`, nil},
				{`INSERT INTO sync_links (source_id, remote_id, contact_id, content_hash, payload, decision, synced_at)
					SELECT $1, 'r' || id, id, '\x00', '{"values": {}}', '{}', now() - interval '1 day' FROM contacts`, []any{src.ID}},
				{`INSERT INTO audit_log (actor, action, entity_type, entity_id, contact_id)
					SELECT 'bench', 'tag', 'contact', id, id FROM (SELECT id FROM contacts ORDER BY id LIMIT $1 / 2) x`, []any{changed}},
				{`UPDATE contacts SET title = 'Changed', updated_at = now() WHERE id IN (SELECT id FROM contacts ORDER BY id DESC LIMIT $1 / 2)`, []any{changed}},
				{`VACUUM ANALYZE`, nil},
			} {
				if _, err := bb.Pool.Exec(bb.Ctx, q.sql, q.args...); err != nil {
					b.Fatalf("%s: %v", q.sql, err)
				}
			}
			if c.since {
				// The last push's watermark: after the contacts' sync, before the changes.
				if _, err := bb.Pool.Exec(bb.Ctx, `UPDATE sync_sources SET push_watermark = now() - interval '1 hour'`); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			found := 0
			for b.Loop() {
				found = 0
				after := ""
				scan, err := bb.App.Sources.BeginPush(bb.Ctx, src.ID)
				if err != nil {
					b.Fatal(err)
				}
				for {
					cands, err := bb.App.Sources.PushCandidates(bb.Ctx, src.ID, false, scan, after, 100)
					if err != nil {
						b.Fatal(err)
					}
					if len(cands) == 0 {
						break
					}
					found += len(cands)
					after = cands[len(cands)-1].Link.RemoteID
				}
			}
			if found != changed {
				b.Fatalf("found %d candidates, want %d", found, changed)
			}
			b.ReportMetric(float64(found), "candidates")
		})
	}
}
