package syncengine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/apptest"
	"github.com/contactd/contactd/internal/runs"
	"github.com/contactd/contactd/merge"
	"github.com/contactd/contactd/sync/source"
	"github.com/google/uuid"
)

// remote is a fake contacts API: GET /people?cursor=N&updated_since=T&limit=L.
type remote struct {
	mu      sync.Mutex
	people  []map[string]any // in updated order
	clock   time.Time
	fail    map[int]int // page cursor -> status to answer once
	retry   int         // answer 429 with Retry-After: 1 this many times first
	hits    int
	server  *httptest.Server
	lastURL string
}

func newRemote(t *testing.T) *remote {
	r := &remote{clock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), fail: map[int]int{}}
	r.server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.server.Close)
	return r
}

func (r *remote) put(id, first, last, email string, deleted bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clock = r.clock.Add(time.Hour)
	for i, p := range r.people {
		if p["id"] == id {
			r.people = append(r.people[:i], r.people[i+1:]...)
			break
		}
	}
	r.people = append(r.people, map[string]any{"id": id, "name": map[string]any{"first": first, "last": last},
		"emails": []any{map[string]any{"value": email}}, "updated": r.clock.Format(time.RFC3339), "deleted": deleted})
}

func (r *remote) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hits++
	r.lastURL = req.URL.String()
	if req.Header.Get("Authorization") != "Bearer s3cret" {
		http.Error(w, "no", http.StatusUnauthorized)
		return
	}
	if r.retry > 0 {
		r.retry--
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	cursor, _ := strconv.Atoi(req.URL.Query().Get("cursor"))
	if st, ok := r.fail[cursor]; ok {
		delete(r.fail, cursor)
		w.WriteHeader(st)
		return
	}
	limit, _ := strconv.Atoi(req.URL.Query().Get("limit"))
	var sel []map[string]any
	since := req.URL.Query().Get("updated_since")
	for _, p := range r.people {
		if since == "" || p["updated"].(string) >= since {
			sel = append(sel, p)
		}
	}
	end := min(cursor+limit, len(sel))
	out := map[string]any{"data": sel[min(cursor, len(sel)):end]}
	if end < len(sel) {
		out["next"] = strconv.Itoa(end)
	}
	_ = json.NewEncoder(w).Encode(out)
}

type bundle struct {
	apptest.Bundle
	remote *remote
	src    *source.Source
}

func setup(t *testing.T, policy string) bundle {
	t.Helper()
	b := apptest.New(t)
	sealer, err := source.ParseKey("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	if err != nil {
		t.Fatal(err)
	}
	b.App.Sources.SetSealer(sealer)
	rm := newRemote(t)
	cfg := fmt.Sprintf(`{"url": %q, "token": "s3cret", "itemsPath": "data", "idPath": "id", "updatedPath": "updated",
		"cursorParam": "cursor", "nextCursorPath": "next", "updatedSinceParam": "updated_since", "deletedPath": "deleted",
		"pageSize": 2, "overlap": "30m",
		"fieldMapping": {"firstName": "name.first", "lastName": "name.last", "email": "emails.0.value"}}`, rm.server.URL+"/people")
	src, err := b.App.Sources.Create(b.Ctx, source.NewSource{Type: "http", Name: "crm", Config: json.RawMessage(cfg), ConflictPolicy: policy})
	if err != nil {
		t.Fatal(err)
	}
	return bundle{Bundle: b, remote: rm, src: src}
}

func (b bundle) sync(t *testing.T, full bool) *source.Run {
	t.Helper()
	run, started, err := b.App.Sources.StartRun(b.Ctx, b.src.ID, full)
	if err != nil || !started {
		t.Fatalf("start run: %v (started %v)", err, started)
	}
	out, err := b.App.Sync.Run(b.Ctx, run.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (b bundle) contactOf(t *testing.T, remoteID string) *contact.Contact {
	t.Helper()
	var id uuid.UUID
	if err := b.Pool.QueryRow(b.Ctx, `SELECT contact_id FROM sync_links WHERE source_id = $1 AND remote_id = $2`, b.src.ID, remoteID).Scan(&id); err != nil {
		t.Fatalf("link of %s: %v", remoteID, err)
	}
	c, err := b.App.Contacts.GetContact(b.Ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func wantStats(t *testing.T, run *source.Run, status runs.Status, created, updated, linked, deleted int64) {
	t.Helper()
	st := run.Stats
	if run.Status != status || st.Created != created || st.Updated != updated || st.Linked != linked || st.Deleted != deleted {
		t.Fatalf("run %s: created %d updated %d linked %d deleted %d errors %v; want %s %d %d %d %d",
			run.Status, st.Created, st.Updated, st.Linked, st.Deleted, st.Errors, status, created, updated, linked, deleted)
	}
}

func TestPullInitialThenIncremental(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	b.remote.put("p1", "Ada", "Lovelace", "ada@example.com", false)
	b.remote.put("p2", "Alan", "Turing", "alan@example.com", false)
	b.remote.put("p3", "Grace", "Hopper", "grace@example.com", false)

	run := b.sync(t, false)
	wantStats(t, run, runs.Succeeded, 3, 0, 0, 0)
	if run.Stats.Requests != 2 || run.Stats.Pulled != 3 {
		t.Fatalf("requests %d pulled %d, want 2 pages and 3 records", run.Stats.Requests, run.Stats.Pulled)
	}
	if n := b.Count(t, `SELECT count(*) FROM audit_log WHERE actor = $1 AND action = 'create'`, "sync:"+b.src.ID.String()); n != 3 {
		t.Fatalf("%d create audit entries by the sync actor, want 3", n)
	}

	// Nothing changed remotely: the overlap window pulls records again, none is re-imported
	// (its link is not even rewritten).
	syncedAt := func() (at time.Time) {
		if err := b.Pool.QueryRow(b.Ctx, `SELECT max(synced_at) FROM sync_links`).Scan(&at); err != nil {
			t.Fatal(err)
		}
		return at
	}
	before := syncedAt()
	run = b.sync(t, false)
	wantStats(t, run, runs.Succeeded, 0, 0, 0, 0)
	if run.Stats.Pulled == 0 || !syncedAt().Equal(before) {
		t.Fatalf("pulled %d again; links rewritten (%s, was %s)", run.Stats.Pulled, syncedAt(), before)
	}

	b.remote.put("p4", "Edsger", "Dijkstra", "edsger@example.com", false)
	b.remote.put("p2", "Alan M.", "Turing", "alan@example.com", false)
	b.remote.put("p3", "Grace", "Hopper", "grace@example.com", true)
	run = b.sync(t, false)
	wantStats(t, run, runs.Succeeded, 1, 1, 0, 1)
	if c := b.contactOf(t, "p2"); *c.FirstName != "Alan M." {
		t.Fatalf("p2's first name is %q", *c.FirstName)
	}
	if c := b.contactOf(t, "p3"); c.Status != contact.StatusArchived {
		t.Fatalf("p3's contact is %s, want archived", c.Status)
	}
	if n := b.Count(t, `SELECT count(*) FROM contacts`); n != 4 {
		t.Fatalf("%d contacts, want 4", n)
	}
	// A full resync pulls everything again and changes nothing.
	run = b.sync(t, true)
	wantStats(t, run, runs.Succeeded, 0, 0, 0, 0)
	if run.Stats.Pulled != 4 {
		t.Fatalf("full resync pulled %d, want 4", run.Stats.Pulled)
	}
}

func TestPullLinksAnExistingContact(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	existing, err := b.App.Contacts.CreateContact(b.Ctx, contact.NewContact{FirstName: "Ada", Email: "Ada@Example.com"})
	if err != nil {
		t.Fatal(err)
	}
	b.remote.put("p1", "Ada", "Lovelace", "ada@example.com", false)
	run := b.sync(t, false)
	wantStats(t, run, runs.Succeeded, 0, 0, 1, 0)
	c := b.contactOf(t, "p1")
	if c.ID != existing.ID {
		t.Fatalf("linked to %s, want the existing %s", c.ID, existing.ID)
	}
	if c.LastName == nil || *c.LastName != "Lovelace" || *c.Email != "Ada@Example.com" {
		t.Fatalf("linked contact %+v: want its empty last name filled and its own email kept", c.Values)
	}
	if n := b.Count(t, `SELECT count(*) FROM contacts`); n != 1 {
		t.Fatalf("%d contacts, want 1", n)
	}
}

func TestPullConflictPolicies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ policy, want string }{{"local-wins", "Local"}, {"remote-wins", "Remote"}} {
		t.Run(tc.policy, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tc.policy)
			b.remote.put("p1", "Ada", "Lovelace", "ada@example.com", false)
			b.sync(t, false)
			c := b.contactOf(t, "p1")
			if _, err := b.App.Contacts.UpdateContact(b.Ctx, c.ID, contact.Update{FirstName: contact.Some("Local")}); err != nil {
				t.Fatal(err)
			}
			b.remote.put("p1", "Remote", "Lovelace", "ada@example.com", false)
			run := b.sync(t, false)
			if run.Stats.Conflicts != 1 {
				t.Fatalf("%d conflicts, want 1", run.Stats.Conflicts)
			}
			if got := *b.contactOf(t, "p1").FirstName; got != tc.want {
				t.Fatalf("first name %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPullHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	b.remote.put("p1", "Ada", "Lovelace", "ada@example.com", false)
	b.remote.retry = 1
	start := time.Now()
	run := b.sync(t, false)
	wantStats(t, run, runs.Succeeded, 1, 0, 0, 0)
	if run.Stats.Requests != 2 {
		t.Fatalf("%d requests, want 2 (a 429, then the page)", run.Stats.Requests)
	}
	if waited := time.Since(start); waited < time.Second {
		t.Fatalf("retried after %s, want at least the 1s Retry-After", waited)
	}
}

func TestFailedPageResumesWithoutDuplicates(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	for i := range 5 {
		b.remote.put(fmt.Sprintf("p%d", i), "Person", fmt.Sprint(i), fmt.Sprintf("p%d@example.com", i), false)
	}
	b.remote.fail[2] = http.StatusInternalServerError // the second page
	run := b.sync(t, false)
	wantStats(t, run, runs.Failed, 2, 0, 0, 0)
	var cp map[string]string
	if err := b.Pool.QueryRow(b.Ctx, `SELECT checkpoint FROM sync_sources WHERE id = $1`, b.src.ID).Scan(&cp); err != nil {
		t.Fatal(err)
	}
	if cp["cursor"] != "2" {
		t.Fatalf("checkpoint %v, want the cursor of the failed page", cp)
	}
	run = b.sync(t, false)
	wantStats(t, run, runs.Succeeded, 3, 0, 0, 0)
	if n := b.Count(t, `SELECT count(*) FROM contacts`); n != 5 {
		t.Fatalf("%d contacts, want 5", n)
	}
}

func TestMergePointsBothLinksAtTheSurvivor(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	b.remote.put("p1", "Ada", "Lovelace", "ada@example.com", false)
	b.remote.put("p2", "Ada", "King", "countess@example.com", false)
	b.sync(t, false)
	c1, c2 := b.contactOf(t, "p1"), b.contactOf(t, "p2")
	m, err := b.App.Merges.Merge(b.Ctx, mergeRequest(c1.ID, c2.ID))
	if err != nil {
		t.Fatal(err)
	}
	if n := b.Count(t, `SELECT count(*) FROM sync_links WHERE contact_id = $1`, m.SurvivorID); n != 2 {
		t.Fatalf("%d links on the survivor, want 2", n)
	}
	if _, _, err := b.App.Merges.UndoMerge(b.Ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	if b.contactOf(t, "p1").ID != c1.ID || b.contactOf(t, "p2").ID != c2.ID {
		t.Fatal("undo did not give each contact its link back")
	}
}

func mergeRequest(a, b uuid.UUID) merge.Request { return merge.Request{ContactIDs: []uuid.UUID{a, b}} }

// TestDeadRunResumes kills a run after its first page (the process dies: nothing more is
// recorded) and works it again, as River's retry would: it goes on from the next page.
func TestDeadRunResumes(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	for i := range 5 {
		b.remote.put(fmt.Sprintf("p%d", i), "Person", fmt.Sprint(i), fmt.Sprintf("p%d@example.com", i), false)
	}
	run, _, err := b.App.Sources.StartRun(b.Ctx, b.src.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	ctx, kill := context.WithCancel(b.Ctx)
	if _, err := b.App.Sync.Run(ctx, run.ID, func(int, source.Stats) { kill() }); err == nil {
		t.Fatal("a killed run reported no error")
	}
	got, err := b.App.Sources.GetRun(b.Ctx, b.src.ID, run.ID)
	if err != nil || got.Status != runs.Running || got.Stats.Created != 2 {
		t.Fatalf("killed run: %+v %v", got, err)
	}
	hits := b.remote.hits
	got, err = b.App.Sync.Run(b.Ctx, run.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantStats(t, got, runs.Succeeded, 5, 0, 0, 0)
	if b.remote.hits-hits != 2 {
		t.Fatalf("the resumed run made %d requests, want 2 (pages 2 and 3)", b.remote.hits-hits)
	}
	if n := b.Count(t, `SELECT count(*) FROM contacts`); n != 5 {
		t.Fatalf("%d contacts, want 5", n)
	}
}
