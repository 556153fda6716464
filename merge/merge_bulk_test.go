package merge_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/apptest"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/merge"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Fixed ids, so that two databases built alike hold the same rows.
func cid(n int) uuid.UUID { return uuid.MustParse(fmt.Sprintf("00000000-0000-7000-8000-%012d", n)) }

// bulkScenarioSQL builds contacts with everything a merge touches: alternates, external
// references, keys, audit history, reviews (inside a cluster, across two clusters, to a contact
// outside), relationships to collapse, a merged and an archived contact, and a model version.
// Contacts 1000-2019 are 510 plain pairs, so that MergeClusters takes more than one chunk.
const bulkScenarioSQL = `
CREATE FUNCTION pg_temp.c(n int) RETURNS uuid LANGUAGE sql AS $$ SELECT ('00000000-0000-7000-8000-' || lpad(n::text, 12, '0'))::uuid $$;
CREATE FUNCTION pg_temp.x(p text, n int) RETURNS uuid LANGUAGE sql AS $$ SELECT ('00000000-0000-7000-' || p || '-' || lpad(n::text, 12, '0'))::uuid $$;
INSERT INTO matcher_models (model, actor) VALUES ('{}', 'test');
INSERT INTO users (id, name) VALUES (pg_temp.x('9000', 1), 'U1'), (pg_temp.x('9000', 2), 'U2');
INSERT INTO accounts (id, name) VALUES (pg_temp.x('a000', 1), 'Acc1'), (pg_temp.x('a000', 2), 'Acc2'), (pg_temp.x('a000', 3), 'Acc3');
INSERT INTO contacts (id, first_name, last_name, email, phone, title, company, status, preferences,
	email_normalized, phone_e164, phone_valid, merged_into, created_at, updated_at)
SELECT pg_temp.c(n), f, l, e, p, t, co, coalesce(st, 'active'), coalesce(pr, '{}')::jsonb, lower(e),
	CASE WHEN p IS NOT NULL THEN '+1' || regexp_replace(p, '\D', '', 'g') END, CASE WHEN p IS NOT NULL THEN true END,
	CASE WHEN mi IS NOT NULL THEN pg_temp.c(mi) END,
	'2025-01-01'::timestamptz + make_interval(mins => n), '2025-06-01'::timestamptz + make_interval(hours => h)
FROM (VALUES
	(20, 'Zed', 'Out', 'zed@x.example', NULL, NULL, NULL, NULL, NULL, NULL, 1),
	(1, 'Ann', NULL, 'ann@a.example', NULL, NULL, NULL, NULL, '{"notifications":{"email":true},"communicationMethods":["email","phone"]}', NULL, 1),
	(2, 'Annie', 'Smith', 'annie@a.example', '415 555 0101', 'CTO', NULL, NULL, '{"notifications":{"email":false},"communicationMethods":["email"]}', NULL, 3),
	(3, 'Anne', 'Smith', NULL, NULL, NULL, 'A Co', NULL, NULL, NULL, 2),
	(4, 'Bob', NULL, 'bob@b.example', NULL, NULL, NULL, NULL, NULL, NULL, 1),
	(5, 'Bobby', 'Jones', 'bobby@b.example', '415 555 0202', NULL, 'B Co', NULL, NULL, NULL, 2),
	(6, 'Robert', 'Jones', NULL, '415 555 0203', 'CEO', NULL, NULL, NULL, NULL, 3),
	(7, 'Cy', NULL, 'cy@c.example', NULL, NULL, NULL, NULL, NULL, NULL, 1),
	(8, 'Cyrus', NULL, 'cyrus@c.example', NULL, NULL, NULL, 'merged', NULL, 20, 1),
	(9, 'Dee', 'Dot', 'dee@d.example', NULL, NULL, NULL, NULL, NULL, NULL, 1),
	(10, 'Deirdre', NULL, 'deirdre@d.example', NULL, 'VP', NULL, NULL, NULL, NULL, 2),
	(11, 'Eve', NULL, 'eve@e.example', NULL, NULL, NULL, NULL, NULL, NULL, 1),
	(12, 'Evie', NULL, 'evie@e.example', NULL, NULL, NULL, NULL, NULL, NULL, 1),
	(13, 'Fay', NULL, 'fay@f.example', NULL, NULL, NULL, NULL, NULL, NULL, 1),
	(14, 'Faye', NULL, 'faye@f.example', NULL, NULL, NULL, 'archived', NULL, NULL, 1),
	(15, 'Dee', 'Dot', NULL, '415 555 0909', NULL, 'D Co', NULL, NULL, NULL, 5)
) AS v(n, f, l, e, p, t, co, st, pr, mi, h);
INSERT INTO contacts (id, first_name, email, email_normalized, created_at, updated_at)
SELECT pg_temp.c(n), 'P' || (n / 2), 'p' || n || '@p.example', 'p' || n || '@p.example',
	'2025-02-01'::timestamptz + make_interval(mins => n), '2025-06-01'::timestamptz + make_interval(mins => n)
FROM generate_series(1000, 2019) n;
INSERT INTO contact_alternates (contact_id, kind, value, normalized, created_at) VALUES
	(pg_temp.c(2), 'email', 'old@a.example', 'old@a.example', '2025-03-01'),
	(pg_temp.c(2), 'email', 'ann@a.example', 'ann@a.example', '2025-03-01'),
	(pg_temp.c(1), 'phone', '415 555 0303', '+14155550303', '2025-03-01');
INSERT INTO external_refs (source, external_id, contact_id, created_at)
SELECT 'crm', 'X' || n, pg_temp.c(n), '2025-03-01' FROM unnest(ARRAY[1, 2, 3, 5, 6, 9, 10, 12, 15, 1001, 1002]) n;
INSERT INTO contact_keys (key, contact_id)
SELECT k || n, pg_temp.c(n) FROM unnest(ARRAY[1, 2, 3, 4, 5, 6, 9, 10, 15, 1000, 1001]) n, unnest(ARRAY['e:', 'n:']) k;
INSERT INTO audit_log (at, actor, action, entity_type, entity_id, contact_id, changes)
SELECT '2025-03-01', 'seed', 'create', 'contact', pg_temp.c(n), pg_temp.c(n), jsonb_build_object('n', n)
FROM unnest(ARRAY[1, 2, 2, 3, 5, 6, 10, 15, 1001, 1003]) n;
INSERT INTO duplicate_reviews (id, contact_a, contact_b, score, explanation, fingerprint_a, fingerprint_b, created_at) VALUES
	(pg_temp.x('c000', 1), pg_temp.c(1), pg_temp.c(2), 0.8, '{}', 'a', 'b', '2025-03-01'),
	(pg_temp.x('c000', 2), pg_temp.c(2), pg_temp.c(5), 0.7, '{}', 'a', 'b', '2025-03-01'),
	(pg_temp.x('c000', 3), pg_temp.c(5), pg_temp.c(20), 0.7, '{}', 'a', 'b', '2025-03-01'),
	(pg_temp.x('c000', 4), pg_temp.c(4), pg_temp.c(9), 0.6, '{}', 'a', 'b', '2025-03-01'),
	(pg_temp.x('c000', 5), pg_temp.c(1000), pg_temp.c(1001), 0.6, '{}', 'a', 'b', '2025-03-01');
INSERT INTO contact_accounts (id, contact_id, account_id, role, is_primary, created_at, removed_at) VALUES
	(pg_temp.x('b000', 1), pg_temp.c(4), pg_temp.x('a000', 1), NULL, false, '2025-03-02', NULL),
	(pg_temp.x('b000', 2), pg_temp.c(5), pg_temp.x('a000', 1), 'Buyer', true, '2025-03-01', NULL),
	(pg_temp.x('b000', 3), pg_temp.c(6), pg_temp.x('a000', 2), 'CEO', false, '2025-03-01', NULL),
	(pg_temp.x('b000', 4), pg_temp.c(5), pg_temp.x('a000', 3), NULL, false, '2025-03-01', '2025-04-01');
INSERT INTO contact_users (id, contact_id, user_id, relationship_type, created_at) VALUES
	(pg_temp.x('d000', 1), pg_temp.c(5), pg_temp.x('9000', 1), 'owner', '2025-03-02'),
	(pg_temp.x('d000', 2), pg_temp.c(6), pg_temp.x('9000', 1), 'Owner', '2025-03-01'),
	(pg_temp.x('d000', 3), pg_temp.c(4), pg_temp.x('9000', 2), 'support', '2025-03-01');
`

// bulkScenarioRequests are the scenario's merges, in order: three that fail (a merged contact, a
// model version that does not exist, an archived contact), one that reuses another's survivor,
// and 510 plain pairs.
func bulkScenarioRequests() []merge.Request {
	one, missing := 1, 999
	score := 0.97
	survivor := cid(10)
	reqs := []merge.Request{
		{ContactIDs: []uuid.UUID{cid(3), cid(1), cid(2)}},
		{ContactIDs: []uuid.UUID{cid(4), cid(5), cid(6)}, ModelVersion: &one, Score: &score},
		{ContactIDs: []uuid.UUID{cid(7), cid(8)}},
		{ContactIDs: []uuid.UUID{cid(9)}, SurvivorID: &survivor, FieldValues: map[string]uuid.UUID{"firstName": cid(9), "email": cid(9)}},
		{ContactIDs: []uuid.UUID{cid(11), cid(12)}, ModelVersion: &missing},
		{ContactIDs: []uuid.UUID{cid(13), cid(14)}},
		{ContactIDs: []uuid.UUID{cid(15), cid(10)}},
	}
	for n := 1000; n < 2020; n += 2 {
		reqs = append(reqs, merge.Request{ContactIDs: []uuid.UUID{cid(n + 1), cid(n)}, ModelVersion: &one, Score: &score})
	}
	return reqs
}

// wantFailed are the indexes of bulkScenarioRequests that cannot be merged.
var wantFailed = []int{2, 4, 5}

// dumpState returns every table a merge or an undo writes, as sorted JSON rows, with what
// legitimately differs between two runs normalised: merge ids become their survivor's, and
// timestamps set by now() and generated ids are left out.
func dumpState(t *testing.T, b bundle) map[string][]string {
	t.Helper()
	queries := map[string]string{
		"contacts":           `SELECT to_jsonb(c) - 'updated_at' FROM contacts c`,
		"contact_alternates": `SELECT to_jsonb(r) - 'created_at' || jsonb_build_object('old', merge_id IS NULL AND created_at < '2026-01-01') FROM contact_alternates r`,
		"contact_accounts":   `SELECT to_jsonb(r) - 'removed_at' || jsonb_build_object('removed', removed_at IS NOT NULL) FROM contact_accounts r`,
		"contact_users":      `SELECT to_jsonb(r) - 'removed_at' || jsonb_build_object('removed', removed_at IS NOT NULL) FROM contact_users r`,
		"external_refs":      `SELECT to_jsonb(r) FROM external_refs r`,
		"contact_keys":       `SELECT to_jsonb(r) FROM contact_keys r`,
		"audit_log":          `SELECT to_jsonb(r) - 'id' - 'at' FROM audit_log r`,
		"duplicate_reviews": `SELECT to_jsonb(r) - 'decided_at' - CASE WHEN created_at > '2026-01-01' THEN 'id' ELSE '' END
			|| jsonb_build_object('decided', decided_at IS NOT NULL) FROM duplicate_reviews r`,
		"merges": `SELECT to_jsonb(r) - 'id' - 'created_at' - 'undone_at' - 'snapshot'
			|| jsonb_build_object('undone', undone_at IS NOT NULL, 'snapshot', snapshot #- '{after,updated_at}') FROM merges r`,
		// A merge's duplicate check of its survivor is MergeContacts' alone (see MergeClusters).
		"river_job": `SELECT to_jsonb(r) - 'id' - 'created_at' - 'scheduled_at' FROM river_job r WHERE kind <> 'dedupe_contact'`,
	}
	rows, err := b.Pool.Query(b.Ctx, `SELECT id::text, survivor_id::text FROM merges`)
	if err != nil {
		t.Fatal(err)
	}
	mergeOf := map[string]string{}
	for rows.Next() {
		var id, survivor string
		if err := rows.Scan(&id, &survivor); err != nil {
			t.Fatal(err)
		}
		mergeOf[id] = "merge-into-" + survivor
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for table, q := range queries {
		rows, err := b.Pool.Query(b.Ctx, q+` ORDER BY 1`)
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			for id, repl := range mergeOf {
				s = strings.ReplaceAll(s, id, repl)
			}
			s = recent.ReplaceAllString(s, `"recent"`)
			out[table] = append(out[table], s)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		slices.Sort(out[table])
	}
	return out
}

// recent matches the timestamps the merges and undos set (the scenario's are older).
var recent = regexp.MustCompile(`"20(2[6-9]|[3-9][0-9])-[0-9][^"]*"`)

// compareStates reports every row one state has and the other lacks, table by table.
func compareStates(t *testing.T, what string, want, got map[string][]string) {
	t.Helper()
	for table, w := range want {
		g := got[table]
		var missing, extra []string
		for _, r := range w {
			if _, ok := slices.BinarySearch(g, r); !ok {
				missing = append(missing, r)
			}
		}
		for _, r := range g {
			if _, ok := slices.BinarySearch(w, r); !ok {
				extra = append(extra, r)
			}
		}
		if len(missing)+len(extra) > 0 || len(w) != len(g) {
			t.Errorf("%s: %s: %d rows, want %d\nmissing (%d): %s\nextra (%d): %s", what, table, len(g), len(w),
				len(missing), strings.Join(first(missing, 3), "\n  "), len(extra), strings.Join(first(extra, 3), "\n  "))
		}
	}
}

func first(s []string, n int) []string { return s[:min(n, len(s))] }

func scenario(t *testing.T) bundle {
	t.Helper()
	b := setup(t)
	if _, err := b.Pool.Exec(b.Ctx, bulkScenarioSQL); err != nil {
		t.Fatal(err)
	}
	// The blocking keys the contacts have, as merges and undos recompute them.
	rows, _ := b.Pool.Query(b.Ctx, `SELECT id FROM contacts`)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		t.Fatal(err)
	}
	if err := b.App.Engine.Rekey(b.Ctx, ids); err != nil {
		t.Fatal(err)
	}
	return b
}

func errorText(err error) string {
	if ce, ok := err.(*db.Error); ok {
		out, _ := json.Marshal(ce)
		return string(out)
	}
	return err.Error()
}

func TestMergeClustersEqualsMergeContacts(t *testing.T) {
	t.Parallel()
	reqs := bulkScenarioRequests()
	one, bulk := scenario(t), scenario(t)
	before := dumpState(t, bulk)

	wantErrs := map[int]string{}
	var wantMerges []*merge.Merge
	for i, req := range reqs {
		m, _, err := one.App.Merges.MergeContacts(one.Ctx, req)
		if err != nil {
			wantErrs[i] = errorText(err)
			continue
		}
		wantMerges = append(wantMerges, m)
	}
	merges, failed, err := bulk.App.Merges.MergeClusters(bulk.Ctx, reqs)
	if err != nil {
		t.Fatal(err)
	}
	gotErrs := map[int]string{}
	for i, err := range failed {
		gotErrs[i] = errorText(err)
	}
	if fmt.Sprint(gotErrs) != fmt.Sprint(wantErrs) {
		t.Errorf("failed %v\nwant %v", gotErrs, wantErrs)
	}
	if got := slices.Sorted(func(yield func(int) bool) {
		for i := range failed {
			if !yield(i) {
				return
			}
		}
	}); !slices.Equal(got, wantFailed) {
		t.Errorf("failed requests %v, want %v", got, wantFailed)
	}
	if len(merges) != len(wantMerges) {
		t.Fatalf("%d merges, want %d", len(merges), len(wantMerges))
	}
	for i, m := range merges {
		w := wantMerges[i]
		if m.SurvivorID != w.SurvivorID || !slices.Equal(m.MergedIDs, w.MergedIDs) || m.Actor != w.Actor || m.CreatedAt.IsZero() {
			t.Errorf("merge %d: %+v, want %+v", i, m, w)
		}
	}
	compareStates(t, "after merging", dumpState(t, one), dumpState(t, bulk))
	checks := func(b bundle) (n int) {
		if err := b.Pool.QueryRow(b.Ctx, `SELECT count(DISTINCT args->>'contact_id') FROM river_job WHERE kind = 'dedupe_contact'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	survivors := map[uuid.UUID]bool{}
	for _, m := range wantMerges {
		survivors[m.SurvivorID] = true
	}
	if got, want := checks(one), len(survivors); got != want {
		t.Errorf("MergeContacts enqueued checks of %d survivors, want %d", got, want)
	}
	if got := checks(bulk); got != 0 {
		t.Errorf("MergeClusters enqueued checks of %d survivors, want none", got)
	}

	t.Run("undo", func(t *testing.T) {
		// Undone newest first, a bulk-made merge comes undone as a MergeContacts one does, and
		// the contacts are back as they were.
		for _, b := range []struct {
			b      bundle
			merges []*merge.Merge
		}{{one, wantMerges}, {bulk, merges}} {
			for i := len(b.merges) - 1; i >= 0; i-- {
				if _, report, err := b.b.App.Merges.UndoMerge(b.b.Ctx, b.merges[i].ID); err != nil || len(report) > 0 {
					t.Fatalf("undo %d: %v %v", i, report, err)
				}
			}
		}
		got := dumpState(t, bulk)
		compareStates(t, "after undoing", dumpState(t, one), got)
		// An undone merge's pairs end dismissed (see below), open reviews among them included.
		mergedWith := map[string]int{}
		for k, m := range merges {
			mergedWith[m.SurvivorID.String()] = k + 1
			for _, id := range m.MergedIDs {
				mergedWith[id.String()] = k + 1
			}
		}
		restored := func(state map[string][]string, undone bool) map[string][]string {
			out := map[string][]string{}
			for _, table := range []string{"contact_alternates", "contact_accounts", "contact_users", "external_refs", "contact_keys"} {
				out[table] = state[table]
			}
			for _, r := range state["contacts"] {
				var row map[string]any
				if err := json.Unmarshal([]byte(r), &row); err != nil {
					t.Fatal(err)
				}
				delete(row, "version")
				if p, _ := json.Marshal(row["preferences"]); string(p) == `{"communicationMethods":null,"notifications":{}}` {
					row["preferences"] = map[string]any{} // how a merge writes no preferences
				}
				s, _ := json.Marshal(row)
				out["contacts"] = append(out["contacts"], string(s))
			}
			for _, r := range state["audit_log"] {
				if !strings.Contains(r, `"merge"`) && !strings.Contains(r, `"unmerge"`) {
					out["audit_log"] = append(out["audit_log"], r)
				}
			}
			for _, r := range state["duplicate_reviews"] {
				var row map[string]any
				if err := json.Unmarshal([]byte(r), &row); err != nil {
					t.Fatal(err)
				}
				if row["id"] == nil {
					continue // an undone merge's pair, dismissed by the undo (checked below)
				}
				a, b := fmt.Sprint(row["contact_a"]), fmt.Sprint(row["contact_b"])
				if !undone && mergedWith[a] != 0 && mergedWith[a] == mergedWith[b] {
					row["status"], row["merge_id"] = "dismissed", nil
				}
				out["duplicate_reviews"] = append(out["duplicate_reviews"], fmt.Sprint(row["id"], row["status"], row["merge_id"]))
			}
			for _, rows := range out {
				slices.Sort(rows)
			}
			return out
		}
		compareStates(t, "undone against before", restored(before, false), restored(got, true))
		// Every pair of an undone merge is dismissed, so that checks do not merge it again.
		pairs := 0
		for _, m := range merges {
			n := len(m.MergedIDs) + 1
			pairs += n * (n - 1) / 2
		}
		var dismissed int
		if err := bulk.Pool.QueryRow(bulk.Ctx, `SELECT count(*) FROM duplicate_reviews WHERE status = 'dismissed' AND decided_by = 'test'`).Scan(&dismissed); err != nil {
			t.Fatal(err)
		}
		if dismissed != pairs {
			t.Errorf("%d pairs dismissed by the undos, want %d", dismissed, pairs)
		}
	})
}

func TestMergeClustersBadClusterFailsAlone(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ids := mergeFixture(t, b,
		contact.NewContact{FirstName: "A", Email: "a@x.example"}, contact.NewContact{FirstName: "A", Email: "a2@x.example"},
		contact.NewContact{FirstName: "B", Email: "b@x.example"}, contact.NewContact{FirstName: "B", Email: "b2@x.example"},
		contact.NewContact{FirstName: "C", Email: "c@x.example"}, contact.NewContact{FirstName: "C", Email: "c2@x.example"},
		contact.NewContact{FirstName: "D", Email: "d@x.example"},
	)
	if _, _, err := b.App.Merges.MergeContacts(b.Ctx, merge.Request{ContactIDs: ids[2:4]}); err != nil {
		t.Fatal(err)
	}
	merges, failed, err := b.App.Merges.MergeClusters(b.Ctx, []merge.Request{
		{ContactIDs: ids[0:2]}, {ContactIDs: []uuid.UUID{ids[6], ids[3]}}, {ContactIDs: ids[4:6]},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != 1 || failed[1] == nil {
		t.Fatalf("failed %v, want request 1 alone", failed)
	}
	apptest.RequireKind(t, failed[1], db.KindInvalid)
	if !strings.Contains(failed[1].Error(), "already been merged") {
		t.Errorf("error %v", failed[1])
	}
	if len(merges) != 2 || merges[0].SurvivorID != ids[0] || merges[1].SurvivorID != ids[4] {
		t.Fatalf("merges %+v", merges)
	}
	for _, id := range []uuid.UUID{ids[1], ids[5]} {
		if c := get(t, b, id); c.Status != contact.StatusMerged {
			t.Errorf("%s is %s, want merged", id, c.Status)
		}
	}
}
