package carddav_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/apptest"
	"github.com/contactd/contactd/internal/runs"
	"github.com/contactd/contactd/sync/carddav"
	"github.com/contactd/contactd/sync/source"
	"github.com/contactd/contactd/sync/syncengine"
	"github.com/google/uuid"
)

type bundle struct {
	apptest.Bundle
	srv  carddav.TestServer
	book string
	src  *source.Source
}

func setup(t *testing.T, srv carddav.TestServer) bundle {
	t.Helper()
	b := apptest.New(t)
	sealer, err := source.ParseKey("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	if err != nil {
		t.Fatal(err)
	}
	b.App.Sources.SetSealer(sealer)
	book, user := srv.Book(t)
	cfg := fmt.Sprintf(`{"url": %q, "username": %q, "password": "pw"}`, book, user)
	src, err := b.App.Sources.Create(b.Ctx, source.NewSource{Type: "carddav", Name: "phone", Config: json.RawMessage(cfg), Direction: "both"})
	if err != nil {
		t.Fatal(err)
	}
	return bundle{Bundle: b, srv: srv, book: book, src: src}
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

// linked is the contact linked to the card at file.
func (b bundle) linked(t *testing.T, file string) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	if err := b.Pool.QueryRow(b.Ctx, `SELECT contact_id FROM sync_links WHERE remote_id LIKE '%/' || $1`, file).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// pushAndRead runs a sync that must push one card and update nothing, then reads the card at
// file back from the server, as a fresh connector sees it.
func (b bundle) pushAndRead(t *testing.T, file string) syncengine.Record {
	t.Helper()
	if run := b.sync(t, false); run.Stats.Pushed != 1 || run.Stats.Updated != 0 {
		t.Fatalf("push: pushed %d updated %d errors %+v", run.Stats.Pushed, run.Stats.Updated, run.Stats.Errors)
	}
	conn, err := carddav.New(b.src, map[string]string{"password": "pw"})
	if err != nil {
		t.Fatal(err)
	}
	page, err := conn.Changes(b.Ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range page.Records {
		if strings.HasSuffix(r.RemoteID, "/"+file) {
			return r
		}
	}
	t.Fatalf("no %s on the server: %+v", file, page.Records)
	return syncengine.Record{}
}

// spoilToken makes the server refuse the source's sync token next time.
func (b bundle) spoilToken(t *testing.T) {
	t.Helper()
	if _, err := b.Pool.Exec(b.Ctx, `UPDATE sync_sources SET checkpoint = jsonb_set(checkpoint, '{token}',
		to_jsonb(left(checkpoint->>'token', -4) || '0000')) WHERE id = $1`, b.src.ID); err != nil {
		t.Fatal(err)
	}
}

func wantStats(t *testing.T, run *source.Run, status runs.Status, created, updated, deleted int64) {
	t.Helper()
	st := run.Stats
	if run.Status != status || st.Created != created || st.Updated != updated || st.Deleted != deleted {
		t.Fatalf("run %s: created %d updated %d linked %d deleted %d errors %v; want %s %d %d %d",
			run.Status, st.Created, st.Updated, st.Linked, st.Deleted, st.Errors, status, created, updated, deleted)
	}
}

func card(uid, first, last, email, extra string) string {
	return fmt.Sprintf("BEGIN:VCARD\nVERSION:3.0\nUID:%s\nN:%s;%s;;;\nFN:%s %s\nEMAIL:%s\n%sEND:VCARD", uid, last, first, first, last, email, extra)
}

func TestSync(t *testing.T) {
	t.Parallel()
	for _, srv := range carddav.Servers(t) {
		t.Run(srv.Name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, srv)
			b.srv.Put(t, b.book, "ada.vcf", card("ada", "Ada", "Lovelace", "ada@example.com", "REV:20260101T000000Z\n"))
			b.srv.Put(t, b.book, "alan.vcf", card("alan", "Alan", "Turing", "alan@example.com", ""))
			b.srv.Put(t, b.book, "grace.vcf", card("grace", "Grace", "Hopper", "grace@example.com", ""))
			wantStats(t, b.sync(t, false), runs.Succeeded, 3, 0, 0)

			// Remote add, edit, delete.
			b.srv.Put(t, b.book, "edsger.vcf", card("edsger", "Edsger", "Dijkstra", "edsger@example.com", ""))
			b.srv.Put(t, b.book, "alan.vcf", card("alan", "Alan M.", "Turing", "alan@example.com", ""))
			b.srv.Remove(t, b.book, "grace.vcf")
			run := b.sync(t, false)
			wantStats(t, run, runs.Succeeded, 1, 1, 1)
			if run.Stats.Requests > 8 {
				t.Fatalf("an incremental run took %d requests", run.Stats.Requests)
			}

			// A rewrite of REV and PRODID, and a reformatting, is no change: nothing is updated.
			b.srv.Put(t, b.book, "ada.vcf", strings.Replace(card("ada", "Ada", "Lovelace", "ada@example.com", "REV:20261231T000000Z\nPRODID:-//Other//EN\n"),
				"EMAIL:", "email:", 1))
			audits := b.Count(t, `SELECT count(*) FROM audit_log`)
			wantStats(t, b.sync(t, false), runs.Succeeded, 0, 0, 0)
			if n := b.Count(t, `SELECT count(*) FROM audit_log`); n != audits {
				t.Fatalf("a REV rewrite was audited (%d entries, was %d)", n, audits)
			}
			// A change to what contactd does not model updates the link's card (what a push
			// starts from), not the contact.
			b.srv.Put(t, b.book, "ada.vcf", card("ada", "Ada", "Lovelace", "ada@example.com", "NOTE:countess\n"))
			wantStats(t, b.sync(t, false), runs.Succeeded, 0, 0, 0)
			var raw string
			if err := b.Pool.QueryRow(b.Ctx, `SELECT convert_from(raw, 'UTF8') FROM sync_links WHERE remote_id LIKE '%/ada.vcf'`).Scan(&raw); err != nil ||
				!strings.Contains(raw, "NOTE:countess") {
				t.Fatalf("a NOTE change did not reach the link's card (%v):\n%s", err, raw)
			}
			if n := b.Count(t, `SELECT count(*) FROM audit_log`); n != audits {
				t.Fatalf("a NOTE change was audited (%d entries, was %d)", n, audits)
			}

			// The token is refused: a full resync, nothing duplicated, the deletion applied.
			b.srv.Remove(t, b.book, "edsger.vcf")
			b.spoilToken(t)
			run = b.sync(t, false)
			wantStats(t, run, runs.Succeeded, 0, 0, 1)
			if n := b.Count(t, `SELECT count(*) FROM contacts`); n != 4 {
				t.Fatalf("%d contacts after a full resync, want 4", n)
			}
			if n := b.Count(t, `SELECT count(*) FROM contacts WHERE status = 'active'`); n != 2 {
				t.Fatalf("%d active contacts, want ada and alan", n)
			}
			// A forced full resync changes nothing.
			wantStats(t, b.sync(t, true), runs.Succeeded, 0, 0, 0)

			// The book comes back empty: the run fails, nothing is archived.
			b.srv.Remove(t, b.book, "ada.vcf")
			b.srv.Remove(t, b.book, "alan.vcf")
			b.spoilToken(t)
			run = b.sync(t, false)
			if run.Status != runs.Failed || run.Stats.Deleted != 0 {
				t.Fatalf("empty book: %s, deleted %d, errors %v", run.Status, run.Stats.Deleted, run.Stats.Errors)
			}
			if n := b.Count(t, `SELECT count(*) FROM contacts WHERE status = 'active'`); n != 2 {
				t.Fatalf("%d active contacts after an empty listing, want 2", n)
			}
			// Confirmed: the emptied book archives its contacts.
			confirmed, _, err := b.App.Sources.StartRunWith(b.Ctx, b.src.ID, source.RunOptions{Full: true, AllowEmpty: true})
			if err != nil {
				t.Fatal(err)
			}
			run, err = b.App.Sync.Run(b.Ctx, confirmed.ID, nil)
			if err != nil {
				t.Fatal(err)
			}
			wantStats(t, run, runs.Succeeded, 0, 0, 2)
		})
	}
}

// Two cards of one person (a duplicate UID, the same email) are one contact with two links:
// deleting one card keeps the contact, deleting both archives it.
func TestSyncDuplicateCards(t *testing.T) {
	t.Parallel()
	for _, srv := range carddav.Servers(t) {
		t.Run(srv.Name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, srv)
			b.srv.Put(t, b.book, "ada.vcf", card("ada", "Ada", "Lovelace", "ada@example.com", ""))
			b.srv.Put(t, b.book, "ada-copy.vcf", card("ada-copy", "Ada", "Lovelace", "ada@example.com", "NOTE:copy\n"))
			run := b.sync(t, false)
			if run.Stats.Created != 1 || run.Stats.Linked != 1 {
				t.Fatalf("two cards of one person: created %d linked %d, errors %v", run.Stats.Created, run.Stats.Linked, run.Stats.Errors)
			}
			b.srv.Remove(t, b.book, "ada-copy.vcf")
			wantStats(t, b.sync(t, false), runs.Succeeded, 0, 0, 0)
			if n := b.Count(t, `SELECT count(*) FROM contacts WHERE status = 'active'`); n != 1 {
				t.Fatalf("deleting one of two cards left %d active contacts, want 1", n)
			}
			b.srv.Remove(t, b.book, "ada.vcf")
			wantStats(t, b.sync(t, false), runs.Succeeded, 0, 0, 1)
		})
	}
}

// TestSyncPush checks push against the real servers: a local edit of a synced contact is PUT
// with If-Match the card's ETag, keeping what contactd does not model, and the next pull does
// not re-import it; an edit on both sides to different fields keeps both, on both sides.
func TestSyncPush(t *testing.T) {
	t.Parallel()
	for _, srv := range carddav.Servers(t) {
		t.Run(srv.Name, func(t *testing.T) {
			t.Parallel()
			b := apptest.New(t)
			sealer, err := source.ParseKey("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
			if err != nil {
				t.Fatal(err)
			}
			b.App.Sources.SetSealer(sealer)
			book, user := srv.Book(t)
			target, _ := url.Parse(book)
			target.Path = ""
			var mu sync.Mutex
			var ifMatch []string // the If-Match of each PUT
			proxy := httputil.NewSingleHostReverseProxy(target)
			front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPut {
					mu.Lock()
					ifMatch = append(ifMatch, r.Header.Get("If-Match"))
					mu.Unlock()
				}
				proxy.ServeHTTP(w, r)
			}))
			t.Cleanup(front.Close)
			fbook := front.URL + strings.TrimPrefix(book, target.String())
			cfg := fmt.Sprintf(`{"url": %q, "username": %q, "password": "pw"}`, fbook, user)
			src, err := b.App.Sources.Create(b.Ctx, source.NewSource{Type: "carddav", Name: "phone", Config: json.RawMessage(cfg), Direction: "both"})
			if err != nil {
				t.Fatal(err)
			}
			bd := bundle{Bundle: b, srv: srv, book: book, src: src}
			get := func() (body, etag string) {
				t.Helper()
				req, _ := http.NewRequest(http.MethodGet, book+"ada.vcf", nil)
				req.SetBasicAuth(user, "pw")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				bs, _ := io.ReadAll(resp.Body)
				return string(bs), resp.Header.Get("ETag")
			}

			srv.Put(t, book, "ada.vcf", card("ada", "Ada", "Lovelace", "ada@example.com", "TEL:+44 20 7946 0018\nX-CUSTOM:kept\n"))
			wantStats(t, bd.sync(t, false), runs.Succeeded, 1, 0, 0)
			var id uuid.UUID
			if err := b.Pool.QueryRow(b.Ctx, `SELECT contact_id FROM sync_links WHERE remote_id LIKE '%/ada.vcf'`).Scan(&id); err != nil {
				t.Fatal(err)
			}

			// A local edit: pushed with If-Match, what contactd does not model kept.
			_, etag := get()
			if _, err := b.App.Contacts.UpdateContact(b.Ctx, id, contact.Update{LastName: contact.Some("King")}); err != nil {
				t.Fatal(err)
			}
			run := bd.sync(t, false)
			if run.Status != runs.Succeeded || run.Stats.Pushed != 1 || run.Stats.Updated != 0 || len(ifMatch) != 1 || etag == "" || ifMatch[0] != etag {
				t.Fatalf("push: %s pushed %d updated %d errors %v; If-Match %q, the card's ETag %q",
					run.Status, run.Stats.Pushed, run.Stats.Updated, run.Stats.Errors, ifMatch, etag)
			}
			body, _ := get()
			for _, want := range []string{"N:King;Ada;;;", "X-CUSTOM:kept", "UID:ada"} {
				if !strings.Contains(body, want) {
					t.Fatalf("the pushed card lacks %q:\n%s", want, body)
				}
			}
			// The next pull sees its own write: nothing re-imported, nothing audited.
			audits := b.Count(t, `SELECT count(*) FROM audit_log`)
			run = bd.sync(t, false)
			if run.Stats.Pushed != 0 || run.Stats.Updated != 0 || run.Stats.Created != 0 || b.Count(t, `SELECT count(*) FROM audit_log`) != audits {
				t.Fatalf("after the push: pushed %d updated %d created %d, audits %d -> %d", run.Stats.Pushed, run.Stats.Updated,
					run.Stats.Created, audits, b.Count(t, `SELECT count(*) FROM audit_log`))
			}

			// Both sides edit different fields: the remote's phone comes in, the local title
			// goes out; no conflict.
			remote := strings.Replace(strings.Replace(body, "+44 20 7946 0018", "+44 20 7946 0999", 1), "\r\n", "\n", -1)
			srv.Put(t, book, "ada.vcf", remote)
			if _, err := b.App.Contacts.UpdateContact(b.Ctx, id, contact.Update{Title: contact.Some("Countess")}); err != nil {
				t.Fatal(err)
			}
			_, etag = get()
			run = bd.sync(t, false)
			if run.Status != runs.Succeeded || run.Stats.Updated != 1 || run.Stats.Pushed != 1 || run.Stats.Conflicts != 0 {
				t.Fatalf("both sides: %s updated %d pushed %d conflicts %d errors %v", run.Status, run.Stats.Updated, run.Stats.Pushed,
					run.Stats.Conflicts, run.Stats.Errors)
			}
			if ifMatch[len(ifMatch)-1] != etag {
				t.Fatalf("the second push's If-Match %q, the card's ETag %q", ifMatch[len(ifMatch)-1], etag)
			}
			c, err := b.App.Contacts.GetContact(b.Ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if c.Phone == nil || *c.Phone != "+44 20 7946 0999" || c.Title == nil || *c.Title != "Countess" || c.LastName == nil || *c.LastName != "King" {
				t.Fatalf("contact after both sides: %+v", c.Values)
			}
			body, _ = get()
			for _, want := range []string{"TITLE:Countess", "+44 20 7946 0999", "N:King;Ada;;;", "X-CUSTOM:kept"} {
				if !strings.Contains(body, want) {
					t.Fatalf("the card after both sides lacks %q:\n%s", want, body)
				}
			}
			run = bd.sync(t, false)
			if run.Stats.Pushed != 0 || run.Stats.Updated != 0 {
				t.Fatalf("settled: pushed %d updated %d", run.Stats.Pushed, run.Stats.Updated)
			}
		})
	}
}

// A custom field's value round-trips through X-CONTACTD-<KEY> on a real server: a card's
// property is pulled into the contact (validated by the field's type), a local change is
// pushed back into the property, and neither comes back as a change.
func TestSyncCustomFields(t *testing.T) {
	t.Parallel()
	for _, srv := range carddav.Servers(t) {
		t.Run(srv.Name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, srv)
			if _, err := b.App.Contacts.CreateCustomField(b.Ctx, contact.CustomField{Key: "loyalty_tier", Label: "Loyalty tier",
				Type: contact.CustomEnum, Options: []string{"Gold", "Silver"}}); err != nil {
				t.Fatal(err)
			}
			srv.Put(t, b.book, "ada.vcf", card("ada", "Ada", "Lovelace", "ada@example.com", "X-CONTACTD-LOYALTY-TIER:gold\n"))
			srv.Put(t, b.book, "alan.vcf", card("alan", "Alan", "Turing", "alan@example.com", "X-CONTACTD-LOYALTY-TIER:Bronze\n"))
			run := b.sync(t, false)
			if run.Stats.Created != 1 || len(run.Stats.Errors) != 1 || !strings.HasSuffix(run.Stats.Errors[0].Ref, "/alan.vcf") ||
				!strings.Contains(run.Stats.Errors[0].Message, "customFields.loyalty_tier") {
				t.Fatalf("created %d, errors %+v", run.Stats.Created, run.Stats.Errors)
			}
			id := b.linked(t, "ada.vcf")
			c, err := b.App.Contacts.GetContact(b.Ctx, id)
			if err != nil || c.Custom["loyalty_tier"] != "Gold" {
				t.Fatalf("custom values %v (%v)", c.Custom, err)
			}
			if _, err := b.App.Contacts.UpdateContact(b.Ctx, id, contact.Update{Custom: contact.CustomInput{"loyalty_tier": "Silver"}}); err != nil {
				t.Fatal(err)
			}
			if r := b.pushAndRead(t, "ada.vcf"); r.Values["customFields.loyalty_tier"] != "Silver" || !strings.Contains(string(r.Raw), "X-CONTACTD-LOYALTY-TIER:Silver") {
				t.Fatalf("the card on the server lacks X-CONTACTD-LOYALTY-TIER:Silver: %+v", r)
			}
			if run := b.sync(t, false); run.Stats.Pushed != 0 || run.Stats.Updated != 0 {
				t.Fatalf("echo: pushed %d updated %d", run.Stats.Pushed, run.Stats.Updated)
			}
		})
	}
}

// A card's preferred ADR is the contact's postal address on a real server: pulled into the
// contact, a local change pushed back into the same ADR (its TYPE kept, the other ADR
// untouched), and neither comes back as a change.
func TestSyncAddress(t *testing.T) {
	t.Parallel()
	for _, srv := range carddav.Servers(t) {
		t.Run(srv.Name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, srv)
			srv.Put(t, b.book, "ada.vcf", card("ada", "Ada", "Lovelace", "ada@example.com",
				"ADR;TYPE=work:;;1 Work Rd;Leeds;;LS1;UK\nADR;TYPE=home,pref:;Flat 2;12 Old Rd;London;;SW1;UK\n"))
			if run := b.sync(t, false); run.Stats.Created != 1 || len(run.Stats.Errors) != 0 {
				t.Fatalf("created %d, errors %+v", run.Stats.Created, run.Stats.Errors)
			}
			id := b.linked(t, "ada.vcf")
			c, err := b.App.Contacts.GetContact(b.Ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if got := [...]string{deref(c.Street), deref(c.City), deref(c.PostalCode), deref(c.Country)}; got != [...]string{"12 Old Rd, Flat 2", "London", "SW1", "UK"} {
				t.Fatalf("address %q", got)
			}
			if _, err := b.App.Contacts.UpdateContact(b.Ctx, id, contact.Update{Street: contact.Some("3 New Rd"), City: contact.Some("Bath"),
				PostalCode: contact.Some("BA1")}); err != nil {
				t.Fatal(err)
			}
			r := b.pushAndRead(t, "ada.vcf")
			if r.Values["street"] != "3 New Rd" || r.Values["city"] != "Bath" || r.Values["postalCode"] != "BA1" {
				t.Errorf("values on the server %v", r.Values)
			}
			if raw := string(r.Raw); !strings.Contains(raw, ";;3 New Rd;Bath;;BA1;UK") || !strings.Contains(raw, "1 Work Rd;Leeds") || !strings.Contains(strings.ToLower(raw), "home") {
				t.Fatalf("the card on the server:\n%s", raw)
			}
			if run := b.sync(t, false); run.Stats.Pushed != 0 || run.Stats.Updated != 0 {
				t.Fatalf("echo: pushed %d updated %d", run.Stats.Pushed, run.Stats.Updated)
			}
		})
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
