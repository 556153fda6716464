package source_test

import (
	"encoding/json"
	"testing"

	"github.com/contactd/contactd/internal/apptest"
	"github.com/contactd/contactd/sync/source"
)

// TestBeginPushBoundsItsLookback: a push reads the contacts changed since its watermark; when a
// watermark held back for long (a record failing on every push keeps it) has more changes
// behind it than the bound allows for the source's links, the push looks at every link instead
// of reading them all.
func TestBeginPushBoundsItsLookback(t *testing.T) {
	t.Parallel()
	b := apptest.New(t)
	src, err := b.App.Sources.Create(b.Ctx, source.NewSource{Type: "http", Name: "t",
		Config: json.RawMessage(`{"url": "https://api.example.com/people", "idPath": "id", "fieldMapping": {"email": "email"}}`)})
	if err != nil {
		t.Fatal(err)
	}
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := b.Pool.Exec(b.Ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`INSERT INTO contacts (id, first_name, created_at, updated_at)
		SELECT gen_random_uuid(), 'C' || g, now() - interval '2 days', now() - interval '2 days' FROM generate_series(1, 10) g`)
	exec(`INSERT INTO sync_links (source_id, remote_id, contact_id, content_hash, payload, decision, synced_at)
		SELECT $1, 'r' || id, id, '\x00', '{"values": {}}', '{}', now() - interval '1 day' FROM contacts`, src.ID)
	exec(`UPDATE sync_sources SET push_watermark = now() - interval '1 hour'`)
	// A few changes: read since the watermark, each contact once.
	exec(`INSERT INTO audit_log (actor, action, entity_type, entity_id, contact_id)
		SELECT 't', a, 'contact', id, id FROM (SELECT id FROM contacts ORDER BY id LIMIT 3) x, unnest(ARRAY['tag', 'untag']) a`)
	scan, err := b.App.Sources.BeginPush(b.Ctx, src.ID)
	if err != nil || scan.Since == nil || len(scan.Changed) != 3 {
		t.Fatalf("few changes: since %v, %d changed (%v), want the watermark and 3", scan.Since, len(scan.Changed), err)
	}
	// Many changes behind the watermark (1,100 audit entries for 10 links): every link.
	exec(`INSERT INTO audit_log (actor, action, entity_type, entity_id, contact_id)
		SELECT 't', 'tag', 'contact', c.id, c.id FROM contacts c, generate_series(1, 110)`)
	scan, err = b.App.Sources.BeginPush(b.Ctx, src.ID)
	if err != nil || scan.Since != nil || scan.Changed != nil {
		t.Fatalf("many changes: since %v, %d changed (%v), want every link", scan.Since, len(scan.Changed), err)
	}
	cands, err := b.App.Sources.PushCandidates(b.Ctx, src.ID, false, scan, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(cands) != 10 {
		t.Errorf("%d candidates by the per-link test, want the 10 changed contacts", len(cands))
	}
}
