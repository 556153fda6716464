package syncengine_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/runs"
	"github.com/contactd/contactd/merge"
	"github.com/contactd/contactd/sync/source"
	"github.com/contactd/contactd/sync/syncengine"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
)

func TestSetsMergeThreeWaysAndRawIsKept(t *testing.T) {
	t.Parallel()
	w := setupBook(t, source.NewSource{Direction: "both"})
	w.book.put("a", vals("Ada", "Lovelace", "ada@example.com"), []string{"ada@work.example", "countess@example.com"},
		[]string{"+44 20 7946 0000"}, []string{"Friends"})
	run := w.sync(t)
	if run.Stats.Created != 1 {
		t.Fatalf("created %d", run.Stats.Created)
	}
	c := w.contactOf(t, "a")
	if got := w.alternates(t, c.ID, "email"); !slices.Equal(got, []string{"ada@work.example", "countess@example.com"}) {
		t.Fatalf("emails %v", got)
	}
	if got := w.alternates(t, c.ID, "phone"); !slices.Equal(got, []string{"+44 20 7946 0000"}) {
		t.Fatalf("phones %v", got)
	}
	if !slices.Equal(c.Tags, []string{"Friends"}) {
		t.Fatalf("tags %v", c.Tags)
	}
	var raw []byte
	if err := w.Pool.QueryRow(w.Ctx, `SELECT raw FROM sync_links WHERE remote_id = 'a'`).Scan(&raw); err != nil || !strings.Contains(string(raw), "X-KEPT:a") {
		t.Fatalf("raw %q %v", raw, err)
	}
	// Nothing changed: nothing pulled back in, nothing pushed.
	if run := w.sync(t); run.Stats.Updated != 0 || run.Stats.Pushed != 0 {
		t.Fatalf("quiet run updated %d pushed %d", run.Stats.Updated, run.Stats.Pushed)
	}
	if ws := w.book.takeWrites(); len(ws) != 0 {
		t.Fatalf("quiet run wrote %+v", ws)
	}

	// Locally a tag is added; remotely an email is removed and another added, a tag added.
	if _, err := w.App.Tags.Add(w.Ctx, c.ID, []string{"VIP"}); err != nil {
		t.Fatal(err)
	}
	w.book.put("a", vals("Ada", "Lovelace", "ada@example.com"), []string{"ada@work.example", "ada@home.example"},
		[]string{"+44 20 7946 0000"}, []string{"Friends", "Maths"})
	run = w.sync(t)
	if run.Stats.Updated != 1 || run.Stats.Conflicts != 0 {
		t.Fatalf("updated %d conflicts %d", run.Stats.Updated, run.Stats.Conflicts)
	}
	c = w.contactOf(t, "a")
	if got := w.alternates(t, c.ID, "email"); !slices.Equal(got, []string{"ada@home.example", "ada@work.example"}) {
		t.Fatalf("emails after merge %v", got)
	}
	if !slices.Equal(c.Tags, []string{"Friends", "Maths", "VIP"}) {
		t.Fatalf("tags after merge %v", c.Tags)
	}
	// The local tag is pushed back, with the record as last received.
	ws := w.book.takeWrites()
	if len(ws) != 1 || !slices.Equal(ws[0].Tags, []string{"Friends", "Maths", "VIP"}) || !strings.Contains(string(ws[0].Raw), "X-KEPT:a") ||
		!slices.Equal(ws[0].Emails, []string{"ada@home.example", "ada@work.example"}) {
		t.Fatalf("writes %+v", ws)
	}
	if run.Stats.Pushed != 1 {
		t.Fatalf("pushed %d", run.Stats.Pushed)
	}
	// Our own write is not re-imported.
	if run := w.sync(t); run.Stats.Updated != 0 || run.Stats.Pushed != 0 {
		t.Fatalf("echo: updated %d pushed %d", run.Stats.Updated, run.Stats.Pushed)
	}
}

func TestPushLocalChangeWithIfMatch(t *testing.T) {
	t.Parallel()
	w := setupBook(t, source.NewSource{Direction: "both"})
	w.book.put("a", vals("Ada", "Lovelace", "ada@example.com"), nil, nil, nil)
	w.sync(t)
	c := w.contactOf(t, "a")
	etag := strings.Clone(w.bookETag("a"))
	if _, err := w.App.Contacts.UpdateContact(w.Ctx, c.ID, contact.Update{LastName: contact.Some("King")}); err != nil {
		t.Fatal(err)
	}
	run := w.sync(t)
	if run.Stats.Pushed != 1 {
		t.Fatalf("pushed %d", run.Stats.Pushed)
	}
	ws := w.book.takeWrites()
	if len(ws) != 1 || ws[0].RemoteID != "a" || ws[0].IfMatch != etag || ws[0].Values["lastName"] != "King" || ws[0].Emails != nil {
		t.Fatalf("writes %+v (etag %s)", ws, etag)
	}
	if got := w.book.get("a").values["lastName"]; got != "King" {
		t.Fatalf("remote last name %q", got)
	}
	if run := w.sync(t); run.Stats.Pushed != 0 || run.Stats.Updated != 0 {
		t.Fatalf("after push: pushed %d updated %d", run.Stats.Pushed, run.Stats.Updated)
	}
}

func (w twoWay) bookETag(id string) string {
	return w.book.record(id, w.book.get(id)).ETag
}

func TestPushConflictIsMergedAndRetriedOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ policy, want string }{{"local-wins", "Local"}, {"remote-wins", "Remote"}} {
		t.Run(tc.policy, func(t *testing.T) {
			t.Parallel()
			w := setupBook(t, source.NewSource{Direction: "both", ConflictPolicy: tc.policy})
			w.book.put("a", vals("Ada", "Lovelace", "ada@example.com"), nil, nil, nil)
			w.sync(t)
			c := w.contactOf(t, "a")
			if _, err := w.App.Contacts.UpdateContact(w.Ctx, c.ID, contact.Update{FirstName: contact.Some("Local"), Phone: contact.Some("+1 202 555 0100")}); err != nil {
				t.Fatal(err)
			}
			// The remote changes between the pull and the push: the write meets a 412.
			once := true
			w.book.beforeWrite = func(syncengine.Write) {
				if once {
					once = false
					w.book.put("a", map[string]string{"firstName": "Remote", "lastName": "Lovelace", "email": "ada@example.com", "title": "Countess"}, nil, nil, nil)
				}
			}
			run := w.sync(t)
			if run.Stats.Conflicts != 1 || len(run.Stats.ConflictLog) != 1 || run.Stats.ConflictLog[0].Field != "firstName" {
				t.Fatalf("conflicts %d %+v", run.Stats.Conflicts, run.Stats.ConflictLog)
			}
			got := w.contactOf(t, "a")
			if *got.FirstName != tc.want || got.Title == nil || *got.Title != "Countess" || got.Phone == nil {
				t.Fatalf("contact %+v: want %s, the remote's title and the local phone", got.Values, tc.want)
			}
			remote := w.book.get("a").values
			if remote["firstName"] != tc.want || remote["title"] != "Countess" || remote["phone"] == "" {
				t.Fatalf("remote %v after the retry", remote)
			}
			if n := w.Count(t, `SELECT count(*) FROM audit_log WHERE contact_id = $1 AND action = 'sync_conflict'`, c.ID); n != 1 {
				t.Fatalf("%d conflict audit entries", n)
			}
		})
	}
}

func TestPushNew(t *testing.T) {
	t.Parallel()
	for _, pushNew := range []bool{false, true} {
		t.Run(map[bool]string{false: "off", true: "on"}[pushNew], func(t *testing.T) {
			t.Parallel()
			cfg, _ := json.Marshal(map[string]bool{"pushNew": pushNew})
			w := setupBook(t, source.NewSource{Direction: "push", Config: cfg})
			c, err := w.App.Contacts.CreateContact(w.Ctx, contact.NewContact{FirstName: "Grace", Email: "grace@example.com", Tags: []string{"Navy"}})
			if err != nil {
				t.Fatal(err)
			}
			run := w.sync(t)
			ws := w.book.takeWrites()
			if !pushNew {
				if len(ws) != 0 || run.Stats.Pushed != 0 {
					t.Fatalf("pushNew off wrote %+v", ws)
				}
				return
			}
			if len(ws) != 1 || ws[0].RemoteID != "" || ws[0].Key != c.ID.String() || !slices.Equal(ws[0].Tags, []string{"Navy"}) {
				t.Fatalf("writes %+v", ws)
			}
			if got := w.contactOf(t, "new-1"); got.ID != c.ID {
				t.Fatalf("linked to %s", got.ID)
			}
			if run := w.sync(t); run.Stats.Pushed != 0 {
				t.Fatalf("pushed again: %d", run.Stats.Pushed)
			}
		})
	}
}

func TestDeletesBothWays(t *testing.T) {
	t.Parallel()
	w := setupBook(t, source.NewSource{Direction: "both"})
	w.book.put("a", vals("Ada", "Lovelace", "ada@example.com"), nil, nil, nil)
	w.book.put("b", vals("Alan", "Turing", "alan@example.com"), nil, nil, nil)
	w.book.put("c", vals("Grace", "Hopper", "grace@example.com"), nil, nil, nil)
	w.sync(t)
	a, b, c := w.contactOf(t, "a"), w.contactOf(t, "b"), w.contactOf(t, "c")
	etag := w.bookETag("a")

	// Archived here: deleted remotely, with If-Match.
	if err := w.App.Contacts.ArchiveContact(w.Ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	run := w.sync(t)
	ws := w.book.takeWrites()
	if len(ws) != 1 || !ws[0].Delete || ws[0].RemoteID != "a" || ws[0].IfMatch != etag || !w.book.get("a").deleted {
		t.Fatalf("writes %+v", ws)
	}
	if run.Stats.Pushed != 1 {
		t.Fatalf("pushed %d", run.Stats.Pushed)
	}
	if c := w.contactOf(t, "a"); c.Status != contact.StatusArchived {
		t.Fatalf("a is %s", c.Status)
	}

	// Deleted remotely: archived; back remotely: active again.
	w.book.remove("b")
	if run := w.sync(t); run.Stats.Deleted != 1 {
		t.Fatalf("deleted %d", run.Stats.Deleted)
	}
	if got := w.contactOf(t, "b"); got.Status != contact.StatusArchived {
		t.Fatalf("b is %s", got.Status)
	}
	w.book.put("b", vals("Alan", "Turing", "alan@example.com"), nil, nil, nil)
	w.sync(t)
	if got := w.contactOf(t, "b"); got.Status != contact.StatusActive || got.ID != b.ID {
		t.Fatalf("b came back as %s %s", got.ID, got.Status)
	}
	if len(w.book.takeWrites()) != 0 {
		t.Fatal("the return was echoed")
	}

	// A contact a person archived stays archived when its record comes back.
	if err := w.App.Contacts.ArchiveContact(w.Ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	w.book.beforeWrite = func(syncengine.Write) {}
	_, _ = w.sources.DB().Pool.Exec(w.Ctx, `UPDATE sync_sources SET direction = 'pull' WHERE id = $1`, w.src.ID)
	w.src.Direction = source.Pull
	w.book.remove("c")
	w.sync(t)
	w.book.put("c", vals("Grace", "Hopper", "grace@example.com"), nil, nil, nil)
	w.sync(t)
	if got := w.contactOf(t, "c"); got.Status != contact.StatusArchived {
		t.Fatalf("c, archived by a person, is %s", got.Status)
	}
}

func TestErasedContactIsDeletedRemotely(t *testing.T) {
	t.Parallel()
	w := setupBook(t, source.NewSource{Direction: "both"})
	w.book.put("a", vals("Ada", "Lovelace", "ada@example.com"), nil, nil, nil)
	w.sync(t)
	c := w.contactOf(t, "a")
	err := w.App.DB.InTx(w.Ctx, func(tx pgx.Tx) error { return w.sources.Links().EraseTx(w.Ctx, tx, []uuid.UUID{c.ID}) })
	if err != nil {
		t.Fatal(err)
	}
	run := w.sync(t)
	if run.Stats.Pushed != 1 || !w.book.get("a").deleted {
		t.Fatalf("pushed %d, remote deleted %v", run.Stats.Pushed, w.book.get("a").deleted)
	}
	if n := w.Count(t, `SELECT count(*) FROM sync_tombstones`); n != 0 {
		t.Fatalf("%d tombstones left", n)
	}
}

func TestPropagateMergesAndUndo(t *testing.T) {
	t.Parallel()
	w := setupBook(t, source.NewSource{Direction: "both", PropagateMerges: true})
	w.book.put("a", vals("Ada", "Lovelace", "ada@example.com"), []string{}, []string{}, []string{})
	w.book.put("b", vals("Ada", "King", "countess@example.com"), []string{}, []string{}, []string{})
	w.sync(t)
	ca, cb := w.contactOf(t, "a"), w.contactOf(t, "b")
	m, err := w.App.Merges.Merge(w.Ctx, mergeRequest(ca.ID, cb.ID))
	if err != nil {
		t.Fatal(err)
	}
	run := w.sync(t)
	if run.Stats.Pushed != 2 {
		t.Fatalf("pushed %d, want the survivor's update and the merged record's delete", run.Stats.Pushed)
	}
	survivorRec, mergedRec := "a", "b"
	if m.SurvivorID == cb.ID {
		survivorRec, mergedRec = "b", "a"
	}
	if !w.book.get(mergedRec).deleted {
		t.Fatal("the merged record is still there")
	}
	if got := w.book.get(survivorRec).emails; len(got) != 1 {
		t.Fatalf("the survivor's record has emails %v, want the merged one's address", got)
	}
	if run := w.sync(t); run.Stats.Pushed != 0 || run.Stats.Deleted != 0 {
		t.Fatalf("after propagation: pushed %d deleted %d", run.Stats.Pushed, run.Stats.Deleted)
	}
	if _, _, err := w.App.Merges.UndoMerge(w.Ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	w.book.takeWrites()
	w.sync(t)
	ws := w.book.takeWrites()
	var created *syncengine.Write
	for i := range ws {
		if ws[i].RemoteID == "" {
			created = &ws[i]
		}
	}
	merged := ca.ID
	if m.SurvivorID == ca.ID {
		merged = cb.ID
	}
	if created == nil || created.Key != merged.String() {
		t.Fatalf("writes after undo %+v: want the restored contact created again", ws)
	}
	if got := w.contactOf(t, "new-1"); got.ID != merged {
		t.Fatalf("the recreated record is linked to %s", got.ID)
	}
}

func TestEmptySideGuardAndSweep(t *testing.T) {
	t.Parallel()
	w := setupBook(t, source.NewSource{})
	w.book.listing = true
	w.book.put("a", vals("Ada", "Lovelace", "ada@example.com"), nil, nil, nil)
	w.book.put("b", vals("Alan", "Turing", "alan@example.com"), nil, nil, nil)
	w.sync(t)
	// A full listing without b: b's contact is archived (mark and sweep).
	w.book.mu.Lock()
	delete(w.book.cards, "b")
	w.book.mu.Unlock()
	run := w.run(t, source.RunOptions{Full: true})
	if run.Status != runs.Succeeded || run.Stats.Deleted != 1 || w.contactOf(t, "b").Status != contact.StatusArchived {
		t.Fatalf("sweep: %s deleted %d %+v", run.Status, run.Stats.Deleted, run.Stats)
	}
	// The book comes back empty: the run fails and archives nothing.
	w.book.mu.Lock()
	w.book.cards = map[string]*card{}
	w.book.mu.Unlock()
	run = w.run(t, source.RunOptions{Full: true})
	if run.Status != runs.Failed || !strings.Contains(run.Stats.Errors[len(run.Stats.Errors)-1].Message, "allowEmpty") {
		t.Fatalf("empty side: %s %+v", run.Status, run.Stats.Errors)
	}
	if w.contactOf(t, "a").Status != contact.StatusActive {
		t.Fatal("the empty side archived a")
	}
	run = w.run(t, source.RunOptions{Full: true, AllowEmpty: true})
	if run.Status != runs.Succeeded || w.contactOf(t, "a").Status != contact.StatusArchived {
		t.Fatalf("allowEmpty: %s, a is %s", run.Status, w.contactOf(t, "a").Status)
	}
}

// TestRecordNotes checks that a record's note is reported on the run, that a noted record with
// values is applied, and that one that is only a note (it does not parse) changes nothing and
// is not swept as gone by a full listing.
func TestRecordNotes(t *testing.T) {
	t.Parallel()
	w := setupBook(t, source.NewSource{})
	w.book.listing = true
	w.book.put("a", vals("Ada", "Lovelace", "ada@example.com"), nil, nil, nil)
	w.book.put("b", vals("Alan", "Turing", "alan@example.com"), nil, nil, nil)
	w.book.cards["a"].note = "the card has no UID"
	run := w.sync(t)
	if run.Stats.Created != 2 || len(run.Stats.Errors) != 1 || run.Stats.Errors[0] != (source.RunError{Ref: "a", Message: "the card has no UID"}) {
		t.Fatalf("noted record: created %d, errors %+v", run.Stats.Created, run.Stats.Errors)
	}
	// b no longer parses: reported, its contact left as it was, not swept.
	w.book.mu.Lock()
	w.book.cards["a"].note = ""
	w.book.cards["b"].values, w.book.cards["b"].note = nil, "the card does not parse"
	w.book.cards["b"].etag++
	w.book.mu.Unlock()
	run = w.run(t, source.RunOptions{Full: true})
	if run.Status != runs.Succeeded || run.Stats.Deleted != 0 || run.Stats.Updated != 0 || len(run.Stats.Errors) != 1 ||
		run.Stats.Errors[0] != (source.RunError{Ref: "b", Message: "the card does not parse"}) || w.contactOf(t, "b").Status != contact.StatusActive {
		t.Fatalf("note-only record: %s %+v, b is %s", run.Status, run.Stats, w.contactOf(t, "b").Status)
	}
}

// TestFirstPullInOnePage checks the set-based create of a page: an invalid record is reported
// by its id and the others are written; two records of the page with one email are one
// contact; a record that is a contact we have is linked; each created contact is audited and
// enqueued for normalization.
func TestFirstPullInOnePage(t *testing.T) {
	t.Parallel()
	w := setupBook(t, source.NewSource{})
	existing, err := w.App.Contacts.CreateContact(w.Ctx, contact.NewContact{FirstName: "Grace", Email: "GRACE@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	w.book.put("a", vals("Ada", "Lovelace", "ada@example.com"), []string{"ada@work.example"}, nil, []string{"Maths"})
	w.book.put("b", vals("Alan", "Turing", "not an email"), nil, nil, nil)
	w.book.put("c", vals("Ada", "King", "ADA@example.com"), nil, nil, nil)
	w.book.put("d", vals("Grace", "Hopper", "grace@example.com"), nil, nil, nil)
	w.book.put("e", map[string]string{"shoeSize": "44", "firstName": "E"}, nil, nil, nil)
	w.book.put("f", vals("Edsger", "Dijkstra", "edsger@example.com"), nil, nil, []string{"Maths"})
	run := w.sync(t)
	if run.Stats.Created != 2 || run.Stats.Linked != 2 || len(run.Stats.Errors) != 2 {
		t.Fatalf("created %d linked %d errors %+v", run.Stats.Created, run.Stats.Linked, run.Stats.Errors)
	}
	refs := []string{run.Stats.Errors[0].Ref, run.Stats.Errors[1].Ref}
	slices.Sort(refs)
	if !slices.Equal(refs, []string{"b", "e"}) || !strings.Contains(run.Stats.Errors[0].Message+run.Stats.Errors[1].Message, "shoeSize") {
		t.Fatalf("errors %+v", run.Stats.Errors)
	}
	if w.contactOf(t, "a").ID != w.contactOf(t, "c").ID {
		t.Fatal("two records with one email made two contacts")
	}
	if w.contactOf(t, "d").ID != existing.ID {
		t.Fatal("a record with a known email was not linked")
	}
	if got := w.contactOf(t, "a").Tags; !slices.Equal(got, []string{"Maths"}) {
		t.Fatalf("a's tags %v", got)
	}
	if got := w.contactOf(t, "f").Tags; !slices.Equal(got, []string{"Maths"}) {
		t.Fatalf("f's tags %v", got)
	}
	if n := w.Count(t, `SELECT count(*) FROM audit_log WHERE action = 'create' AND actor = $1`, syncengine.Actor(w.src.ID)); n != 2 {
		t.Fatalf("%d create audit entries", n)
	}
	if n := w.Count(t, `SELECT count(*) FROM river_job WHERE kind = 'normalize_contact'`); n < 2 {
		t.Fatalf("%d normalize jobs", n)
	}
	if n := w.Count(t, `SELECT count(*) FROM contacts`); n != 3 {
		t.Fatalf("%d contacts", n)
	}
}

// TestMergedRecordDeletedRemotely checks that the remote delete of a merged-away contact's
// record (the duplicate card deleted on the phone) leaves the survivor active.
func TestMergedRecordDeletedRemotely(t *testing.T) {
	t.Parallel()
	w := setupBook(t, source.NewSource{})
	w.book.put("a", vals("Ada", "Lovelace", "ada@example.com"), nil, nil, nil)
	w.book.put("b", vals("Ada", "King", "countess@example.com"), nil, nil, nil)
	w.sync(t)
	ca, cb := w.contactOf(t, "a"), w.contactOf(t, "b")
	m, err := w.App.Merges.Merge(w.Ctx, mergeRequest(ca.ID, cb.ID))
	if err != nil {
		t.Fatal(err)
	}
	gone := "b"
	if m.SurvivorID == cb.ID {
		gone = "a"
	}
	w.book.remove(gone)
	if run := w.sync(t); run.Stats.Deleted != 0 {
		t.Fatalf("deleted %d", run.Stats.Deleted)
	}
	if got := w.contactOf(t, gone); got.ID != m.SurvivorID || got.Status != contact.StatusActive {
		t.Fatalf("the survivor %s is %s", got.ID, got.Status)
	}
}

// TestLocalDeleteMeetsRemoteChange checks that a delete refused because the record changed
// remotely since (412) is retried with the record's new ETag: the local archive is the newer
// intent.
func TestLocalDeleteMeetsRemoteChange(t *testing.T) {
	t.Parallel()
	w := setupBook(t, source.NewSource{Direction: "push"})
	w.book.put("a", vals("Ada", "Lovelace", "ada@example.com"), nil, nil, nil)
	if _, err := w.Pool.Exec(w.Ctx, `UPDATE sync_sources SET direction = 'both' WHERE id = $1`, w.src.ID); err != nil {
		t.Fatal(err)
	}
	w.sync(t)
	if err := w.App.Contacts.ArchiveContact(w.Ctx, w.contactOf(t, "a").ID); err != nil {
		t.Fatal(err)
	}
	once := true
	w.book.beforeWrite = func(syncengine.Write) {
		if once {
			once = false
			w.book.put("a", vals("Ada", "King", "ada@example.com"), nil, nil, nil)
		}
	}
	if _, err := w.Pool.Exec(w.Ctx, `UPDATE sync_sources SET direction = 'push' WHERE id = $1`, w.src.ID); err != nil {
		t.Fatal(err)
	}
	run := w.sync(t)
	ws := w.book.takeWrites()
	if len(ws) != 2 || !ws[1].Delete || ws[1].IfMatch == ws[0].IfMatch || !w.book.get("a").deleted || run.Stats.Pushed != 1 {
		t.Fatalf("writes %+v, pushed %d, remote deleted %v", ws, run.Stats.Pushed, w.book.get("a").deleted)
	}
}

// A push-only source with pushNew whose create meets a record at the contact's key (its own
// earlier create, whose link a crash lost) links that record and writes the contact over it
// with If-Match, once: the next runs neither report it nor write it again.
func TestPushNewAdoptsTheRecordAtItsKey(t *testing.T) {
	t.Parallel()
	w := setupBook(t, source.NewSource{Direction: "push", Config: json.RawMessage(`{"pushNew": true}`)})
	c, err := w.App.Contacts.CreateContact(w.Ctx, contact.NewContact{FirstName: "Grace", LastName: "Hopper", Email: "grace@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	// The record a crashed run created at the contact's key, with what the contact then said.
	w.book.put("made-before", vals("Grace", "", "grace@example.com"), nil, nil, nil)
	w.book.mu.Lock()
	w.book.cards["made-before"].key = c.ID.String()
	etag := strconv.Itoa(w.book.cards["made-before"].etag)
	w.book.mu.Unlock()

	run := w.sync(t)
	if len(run.Stats.Errors) != 0 || run.Stats.Pushed != 1 {
		t.Fatalf("pushed %d, errors %+v", run.Stats.Pushed, run.Stats.Errors)
	}
	ws := w.book.takeWrites()
	if len(ws) != 2 || ws[1].RemoteID != "made-before" || ws[1].IfMatch != etag || ws[1].Values["lastName"] != "Hopper" {
		t.Fatalf("writes %+v: want the create, then the contact written over the record at its key", ws)
	}
	if got := w.contactOf(t, "made-before"); got.ID != c.ID {
		t.Fatalf("the record is linked to %s", got.ID)
	}
	if n := w.Count(t, `SELECT count(*) FROM sync_links`); n != 1 {
		t.Fatalf("%d links", n)
	}
	for range 2 {
		if run := w.sync(t); len(run.Stats.Errors) != 0 || run.Stats.Pushed != 0 {
			t.Fatalf("a later run: pushed %d, errors %+v", run.Stats.Pushed, run.Stats.Errors)
		}
	}
	if ws := w.book.takeWrites(); len(ws) != 0 {
		t.Fatalf("later runs wrote %+v", ws)
	}
}

// queuedRun is the source's queued run, if any.
func (w twoWay) queuedRun(t *testing.T, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) *uuid.UUID {
	t.Helper()
	var id uuid.UUID
	err := q.QueryRow(w.Ctx, `SELECT id FROM sync_runs WHERE source_id = $1 AND status = 'queued'`, w.src.ID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return &id
}

// A merge of two linked contacts queues the source's run in the merge's own transaction
// (propagateMerges, a source that pushes; not a pull-only source linked to them too); that
// run updates the survivor's record and deletes the merged one. An undo queues the next,
// which creates the restored contact's record again.
func TestMergeQueuesItsPushInItsTransaction(t *testing.T) {
	t.Parallel()
	w := setupBook(t, source.NewSource{Direction: "both", PropagateMerges: true})
	pullOnly, err := w.sources.Create(w.Ctx, source.NewSource{Type: "fake", Name: "pull", Direction: "pull", PropagateMerges: true, Config: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	w.book.put("a", vals("Ada", "Lovelace", "ada@example.com"), []string{}, []string{}, []string{})
	w.book.put("b", vals("Ada", "King", "countess@example.com"), []string{}, []string{}, []string{})
	w.sync(t)
	ca, cb := w.contactOf(t, "a"), w.contactOf(t, "b")
	if _, err := w.Pool.Exec(w.Ctx, `INSERT INTO sync_links (source_id, remote_id, contact_id, content_hash, payload, decision)
		SELECT $1, remote_id, contact_id, content_hash, payload, decision FROM sync_links WHERE source_id = $2`, pullOnly.ID, w.src.ID); err != nil {
		t.Fatal(err)
	}
	if w.queuedRun(t, w.Pool) != nil {
		t.Fatal("a run is queued before the merge")
	}
	var m *merge.Merge
	err = w.App.DB.InTx(w.Ctx, func(tx pgx.Tx) error {
		var err error
		if m, err = w.App.Merges.MergeTx(w.Ctx, tx, mergeRequest(ca.ID, cb.ID)); err != nil {
			return err
		}
		rivertest.RequireInsertedTx[*riverpgxv5.Driver](w.Ctx, t, tx, &source.RunArgs{SourceID: w.src.ID}, nil)
		if w.queuedRun(t, tx) == nil {
			t.Error("no run queued in the merge's transaction")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := w.Count(t, `SELECT count(*) FROM sync_runs WHERE source_id = '`+pullOnly.ID.String()+`'`); n != 0 {
		t.Fatalf("the pull-only source got %d runs", n)
	}
	survivorRec, mergedRec := "a", "b"
	merged := cb.ID
	if m.SurvivorID == cb.ID {
		survivorRec, mergedRec, merged = "b", "a", ca.ID
	}
	runID := w.queuedRun(t, w.Pool)
	run, err := w.engine.Run(w.Ctx, *runID, nil)
	if err != nil || run.Status != runs.Succeeded || run.Stats.Pushed != 2 {
		t.Fatalf("the queued run: %v %+v", err, run)
	}
	if !w.book.get(mergedRec).deleted || len(w.book.get(survivorRec).emails) != 1 {
		t.Fatalf("after the queued run: merged record deleted %v, survivor's emails %v", w.book.get(mergedRec).deleted, w.book.get(survivorRec).emails)
	}
	w.book.takeWrites()

	if _, _, err := w.App.Merges.UndoMerge(w.Ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	runID = w.queuedRun(t, w.Pool)
	if runID == nil {
		t.Fatal("the undo queued no run")
	}
	if run, err := w.engine.Run(w.Ctx, *runID, nil); err != nil || run.Status != runs.Succeeded {
		t.Fatalf("the run after the undo: %v %+v", err, run)
	}
	var created *syncengine.Write
	for _, wr := range w.book.takeWrites() {
		if wr.RemoteID == "" {
			created = &wr
		}
	}
	if created == nil || created.Key != merged.String() {
		t.Fatalf("the restored contact's record was not created again (%+v)", created)
	}
}

// A merge made while a run pushes (its run is under way, so the merge queues none) is pushed
// by that run before it finishes.
func TestMergeDuringAPushIsPushedByThatRun(t *testing.T) {
	t.Parallel()
	w := setupBook(t, source.NewSource{Direction: "both", PropagateMerges: true})
	w.book.put("a", vals("Ada", "Lovelace", "ada@example.com"), []string{}, []string{}, []string{})
	w.book.put("b", vals("Ada", "King", "countess@example.com"), []string{}, []string{}, []string{})
	w.book.put("c", vals("Grace", "Hopper", "grace@example.com"), []string{}, []string{}, []string{})
	w.sync(t)
	ca, cb, cc := w.contactOf(t, "a"), w.contactOf(t, "b"), w.contactOf(t, "c")
	if _, err := w.App.Contacts.UpdateContact(w.Ctx, cc.ID, contact.Update{Title: contact.Some("Rear Admiral")}); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	w.book.beforeWrite = func(syncengine.Write) {
		once.Do(func() {
			if _, err := w.App.Merges.Merge(w.Ctx, mergeRequest(ca.ID, cb.ID)); err != nil {
				t.Error(err)
			}
		})
	}
	run := w.sync(t)
	if run.Stats.Pushed != 3 {
		t.Fatalf("pushed %d: want c's edit, then the survivor's update and the merged record's delete", run.Stats.Pushed)
	}
	if w.queuedRun(t, w.Pool) != nil {
		t.Fatal("a run is queued after the run that pushed the merge")
	}
	if !w.book.get("a").deleted && !w.book.get("b").deleted {
		t.Fatal("the merged record is still there")
	}
}

// The rule for a contact archived because one source deleted its record: the contact is gone
// from contactd, so the other sources that push delete their records of it too (with
// If-Match, like any local archive); the source that deleted it writes nothing. When the
// record comes back to the first source, the contact is active again and the others create
// their records again.
func TestRemoteDeleteArchivesAndOtherSourcesDelete(t *testing.T) {
	t.Parallel()
	phone := setupBook(t, source.NewSource{Direction: "both"})
	laptopSrc, err := phone.sources.Create(phone.Ctx, source.NewSource{Type: "fake2", Name: "laptop", Direction: "both", Config: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	laptop := phone
	laptop.src, laptop.book = laptopSrc, phone.other
	phone.book.put("p1", vals("Ada", "Lovelace", "ada@example.com"), nil, nil, nil)
	laptop.book.put("l1", vals("Ada", "Lovelace", "ada@example.com"), nil, nil, nil)
	phone.sync(t)
	laptop.sync(t)
	c := phone.contactOf(t, "p1")
	if got := laptop.contactOf(t, "l1"); got.ID != c.ID {
		t.Fatalf("the laptop's card is linked to %s, the phone's to %s", got.ID, c.ID)
	}
	etag := laptop.bookETag("l1")

	phone.book.remove("p1")
	if run := phone.sync(t); run.Stats.Deleted != 1 || run.Stats.Pushed != 0 {
		t.Fatalf("phone: deleted %d pushed %d", run.Stats.Deleted, run.Stats.Pushed)
	}
	if got := phone.contactOf(t, "p1"); got.Status != contact.StatusArchived {
		t.Fatalf("the contact is %s", got.Status)
	}
	phone.book.takeWrites()
	run := laptop.sync(t)
	ws := laptop.book.takeWrites()
	if run.Stats.Pushed != 1 || len(ws) != 1 || !ws[0].Delete || ws[0].RemoteID != "l1" || ws[0].IfMatch != etag || !laptop.book.get("l1").deleted {
		t.Fatalf("laptop: pushed %d, writes %+v", run.Stats.Pushed, ws)
	}
	if run := phone.sync(t); run.Stats.Pushed != 0 || len(phone.book.takeWrites()) != 0 {
		t.Fatalf("the phone wrote after its own delete: pushed %d", run.Stats.Pushed)
	}

	phone.book.put("p1", vals("Ada", "Lovelace", "ada@example.com"), nil, nil, nil)
	phone.sync(t)
	if got := phone.contactOf(t, "p1"); got.Status != contact.StatusActive || got.ID != c.ID {
		t.Fatalf("after the card came back: %s %s", got.ID, got.Status)
	}
	laptop.sync(t)
	var created *syncengine.Write
	for _, wr := range laptop.book.takeWrites() {
		if wr.RemoteID == "" {
			created = &wr
		}
	}
	if created == nil || created.Key != c.ID.String() {
		t.Fatalf("the laptop did not create its card again: %+v", created)
	}
}

// A push looks only at the contacts changed since its source's last clean push (the
// watermark), yet a record whose write failed is written by the next run although its contact
// did not change again: a push with record errors keeps the watermark.
func TestFailedPushIsRetriedByTheNextRun(t *testing.T) {
	t.Parallel()
	w := setupBook(t, source.NewSource{Direction: "both"})
	w.book.put("a", vals("Ada", "Lovelace", "ada@example.com"), nil, nil, nil)
	w.book.put("b", vals("Alan", "Turing", "alan@example.com"), nil, nil, nil)
	w.sync(t)
	var mark *time.Time
	if err := w.Pool.QueryRow(w.Ctx, `SELECT push_watermark FROM sync_sources WHERE id = $1`, w.src.ID).Scan(&mark); err != nil || mark == nil {
		t.Fatalf("no watermark after a clean push: %v", err)
	}
	ca, cb := w.contactOf(t, "a"), w.contactOf(t, "b")
	for _, id := range []uuid.UUID{ca.ID, cb.ID} {
		if _, err := w.App.Contacts.UpdateContact(w.Ctx, id, contact.Update{Title: contact.Some("Edited")}); err != nil {
			t.Fatal(err)
		}
	}
	w.book.fail = func(wr syncengine.Write) error {
		if wr.RemoteID == "a" {
			return errors.New("the server is busy")
		}
		return nil
	}
	if run := w.sync(t); run.Stats.Pushed != 1 || len(run.Stats.Errors) != 1 || run.Stats.Errors[0].Ref != "a" {
		t.Fatalf("pushed %d, errors %+v", run.Stats.Pushed, run.Stats.Errors)
	}
	w.book.fail = nil
	w.book.takeWrites()
	if run := w.sync(t); run.Stats.Pushed != 1 || len(run.Stats.Errors) != 0 {
		t.Fatalf("retry: pushed %d, errors %+v", run.Stats.Pushed, run.Stats.Errors)
	}
	if ws := w.book.takeWrites(); len(ws) != 1 || ws[0].RemoteID != "a" || ws[0].Values["title"] != "Edited" {
		t.Fatalf("retry wrote %+v", ws)
	}
	if run := w.sync(t); run.Stats.Pushed != 0 {
		t.Fatalf("a quiet run pushed %d", run.Stats.Pushed)
	}
}

// Custom fields on the sync path: a record's customFields.<key> values are validated by the
// field's type (an invalid or unknown one is a run error naming the record and the field, and
// the run goes on), stored in their canonical form, updated three ways like any field, and
// written back by a push.
func TestCustomFieldsSync(t *testing.T) {
	t.Parallel()
	w := setupBook(t, source.NewSource{Direction: "both"})
	for _, d := range []contact.CustomField{
		{Key: "tier", Label: "Tier", Type: contact.CustomEnum, Options: []string{"Gold", "Silver"}},
		{Key: "score", Label: "Score", Type: contact.CustomNumber},
	} {
		if _, err := w.App.Contacts.CreateCustomField(w.Ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	with := func(v map[string]string, kv ...string) map[string]string {
		for i := 0; i < len(kv); i += 2 {
			v[kv[i]] = kv[i+1]
		}
		return v
	}
	w.book.put("a", with(vals("Ada", "Lovelace", "ada@example.com"), "customFields.tier", "gold", "customFields.score", "12.50"), nil, nil, nil)
	w.book.put("b", with(vals("Alan", "Turing", "alan@example.com"), "customFields.tier", "Platinum"), nil, nil, nil)
	w.book.put("c", with(vals("Grace", "Hopper", "grace@example.com"), "customFields.nope", "x"), nil, nil, nil)
	run := w.sync(t)
	if run.Stats.Created != 1 || len(run.Stats.Errors) != 2 {
		t.Fatalf("created %d, errors %+v", run.Stats.Created, run.Stats.Errors)
	}
	for i, want := range []struct{ ref, field string }{{"b", "customFields.tier"}, {"c", "customFields.nope"}} {
		if e := run.Stats.Errors[i]; e.Ref != want.ref || !strings.Contains(e.Message, want.field) {
			t.Errorf("error %d: %+v, want %s naming %s", i, e, want.ref, want.field)
		}
	}
	c := w.contactOf(t, "a")
	if c.Custom["tier"] != "Gold" || c.Custom["score"] != 12.5 {
		t.Fatalf("custom values %v", c.Custom)
	}
	if run := w.sync(t); run.Stats.Updated != 0 || run.Stats.Pushed != 0 {
		t.Fatalf("a quiet run updated %d pushed %d", run.Stats.Updated, run.Stats.Pushed)
	}

	// Remote: the tier changes; here: the score. Both are kept, on both sides.
	w.book.put("a", with(vals("Ada", "Lovelace", "ada@example.com"), "customFields.tier", "Silver", "customFields.score", "12.5"), nil, nil, nil)
	if _, err := w.App.Contacts.UpdateContact(w.Ctx, c.ID, contact.Update{Custom: contact.CustomInput{"score": 13.0}}); err != nil {
		t.Fatal(err)
	}
	w.book.takeWrites()
	run = w.sync(t)
	if run.Stats.Updated != 1 || run.Stats.Pushed != 1 || run.Stats.Conflicts != 0 {
		t.Fatalf("updated %d pushed %d conflicts %d", run.Stats.Updated, run.Stats.Pushed, run.Stats.Conflicts)
	}
	c = w.contactOf(t, "a")
	if c.Custom["tier"] != "Silver" || c.Custom["score"] != 13.0 {
		t.Fatalf("custom values after both edits %v", c.Custom)
	}
	if got := w.book.get("a").values; got["customFields.tier"] != "Silver" || got["customFields.score"] != "13" {
		t.Fatalf("remote values after the push %v", got)
	}
	if run := w.sync(t); run.Stats.Updated != 0 || run.Stats.Pushed != 0 {
		t.Fatalf("echo: updated %d pushed %d", run.Stats.Updated, run.Stats.Pushed)
	}
}

// Unique custom values on the sync path, claimed for a page at once: of two new records with
// the same value, the first is created and the second is a run error naming the field; a
// record with a value an active contact already has is an error too; the others of the page
// are created together (values are unique exactly: c-2 is not C-2).
func TestCustomFieldsSyncUnique(t *testing.T) {
	t.Parallel()
	w := setupBook(t, source.NewSource{Direction: "pull"})
	if _, err := w.App.Contacts.CreateCustomField(w.Ctx, contact.CustomField{Key: "customer_no", Label: "Customer number",
		Type: contact.CustomText, Unique: true}); err != nil {
		t.Fatal(err)
	}
	holder, err := w.App.Contacts.CreateContact(w.Ctx, contact.NewContact{FirstName: "Holder", Custom: contact.CustomInput{"customer_no": "C-1"}})
	if err != nil {
		t.Fatal(err)
	}
	with := func(v map[string]string, no string) map[string]string {
		v["customFields.customer_no"] = no
		return v
	}
	w.book.put("a", with(vals("Ada", "Lovelace", "ada@example.com"), "C-2"), nil, nil, nil)
	w.book.put("b", with(vals("Alan", "Turing", "alan@example.com"), "C-2"), nil, nil, nil)
	w.book.put("e", with(vals("Barbara", "Liskov", "barbara@example.com"), "c-2"), nil, nil, nil)
	w.book.put("c", with(vals("Grace", "Hopper", "grace@example.com"), "C-1"), nil, nil, nil)
	w.book.put("d", with(vals("Edsger", "Dijkstra", "edsger@example.com"), "C-4"), nil, nil, nil)
	run := w.sync(t)
	if run.Stats.Created != 3 || len(run.Stats.Errors) != 2 {
		t.Fatalf("created %d, errors %+v", run.Stats.Created, run.Stats.Errors)
	}
	refs := map[string]bool{}
	for _, e := range run.Stats.Errors {
		refs[e.Ref] = true
		if !strings.Contains(e.Message, "customFields.customer_no") && !strings.Contains(e.Message, "customer_no") {
			t.Errorf("error %+v does not name the field", e)
		}
	}
	if !refs["b"] || !refs["c"] {
		t.Fatalf("errors %+v, want b and c", run.Stats.Errors)
	}
	if c := w.contactOf(t, "a"); c.Custom["customer_no"] != "C-2" {
		t.Fatalf("a: %v", c.Custom)
	}
	if c := w.contactOf(t, "d"); c.Custom["customer_no"] != "C-4" {
		t.Fatalf("d: %v", c.Custom)
	}
	var n int
	if err := w.Pool.QueryRow(w.Ctx, `SELECT count(*) FROM contacts WHERE custom_fields ->> 'customer_no' = 'C-1' AND status = 'active'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d active contacts with C-1 (%v), holder %s", n, err, holder.ID)
	}
}
