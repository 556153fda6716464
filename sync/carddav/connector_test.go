package carddav

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/contactd/contactd/sync/syncengine"
)

const adaV3 = `BEGIN:VCARD
VERSION:3.0
UID:ada
N:Lovelace;Ada;;;
FN:Ada Lovelace
EMAIL;TYPE=work:ada@work.example
EMAIL;TYPE=home,pref:ada@example.com
TEL;TYPE=cell:+44 20 7946 0018
ORG:Analytical Engines;Research
TITLE:Analyst
CATEGORIES:math,pioneer
NOTE:First programmer
X-CUSTOM:kept
REV:20260101T120000Z
END:VCARD`

const alanV4 = `BEGIN:VCARD
VERSION:4.0
UID:urn:uuid:alan
FN:Alan Turing
EMAIL:alan@example.com
TEL;VALUE=uri;PREF=1:tel:+44-161-555-0100
TEL;VALUE=uri:tel:+44-161-555-0101
END:VCARD`

// pull runs a connector's pages from cp to the end of a pass. Every page of a pass must say
// alike whether it is a listing, and only the first may be a restart.
func pull(t *testing.T, c *Connector, cp json.RawMessage) (recs []syncengine.Record, last *syncengine.Page, pages int) {
	t.Helper()
	var first *syncengine.Page
	for {
		page, err := c.Changes(context.Background(), cp)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if first == nil {
			first = page
		} else if page.Listing != first.Listing || page.Restart {
			t.Fatalf("page %d: listing %v restart %v, the first: listing %v", pages, page.Listing, page.Restart, first.Listing)
		}
		last = page
		last.Restart = first.Restart
		recs = append(recs, page.Records...)
		cp = page.Checkpoint
		if !page.More {
			return recs, page, pages
		}
	}
}

func byID(recs []syncengine.Record) map[string]syncengine.Record {
	out := map[string]syncengine.Record{}
	for _, r := range recs {
		out[r.RemoteID[strings.LastIndexByte(r.RemoteID, '/')+1:]] = r
	}
	return out
}

func TestDiscovery(t *testing.T) {
	t.Parallel()
	for _, s := range needServers(t) {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			principal, book := s.book(t)
			for _, from := range []string{book, principal, s.base + "/"} {
				c := s.connector(from, s.userOf(principal))
				if err := c.find(context.Background(), ""); err != nil {
					t.Fatalf("from %s: %v", from, err)
				}
				want := book
				if s.name == "xandikos" && from != book {
					want = s.base + "/user/contacts/addressbook/" // the first book of the one user
				}
				if c.book.String() != want || !c.canSync {
					t.Fatalf("from %s: book %s (sync-collection %v), want %s", from, c.book, c.canSync, want)
				}
			}
		})
	}
}

func TestPull(t *testing.T) {
	t.Parallel()
	for _, s := range needServers(t) {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			_, book := s.book(t)
			s.put(t, book, "ada.vcf", adaV3)
			s.put(t, book, "alan.vcf", alanV4)
			s.put(t, book, "grace.vcf", "BEGIN:VCARD\nVERSION:3.0\nUID:grace\nFN:Grace Hopper\nEMAIL:grace@example.com\nEND:VCARD")
			c := s.connector(book)
			c.PageSize = 2
			recs, last, pages := pull(t, c, nil)
			if len(recs) != 3 || pages != 2 || !last.Listing || last.Restart {
				t.Fatalf("%d records in %d pages, listing %v, restart %v", len(recs), pages, last.Listing, last.Restart)
			}
			got := byID(recs)
			ada := got["ada.vcf"]
			want := map[string]string{"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
				"phone": "+44 20 7946 0018", "company": "Analytical Engines", "title": "Analyst"}
			if !mapsEqual(ada.Values, want) || !slices.Equal(ada.Emails, []string{"ada@work.example"}) ||
				!slices.Equal(ada.Tags, []string{"math", "pioneer"}) || ada.Updated != "2026-01-01T12:00:00Z" || ada.ETag == "" ||
				!strings.Contains(string(ada.Raw), "X-CUSTOM:kept") {
				t.Fatalf("ada: %+v", ada)
			}
			alan := got["alan.vcf"]
			if alan.Values["firstName"] != "Alan" || alan.Values["lastName"] != "Turing" || alan.Values["phone"] != "+44-161-555-0100" ||
				!slices.Equal(alan.Phones, []string{"+44-161-555-0101"}) {
				t.Fatalf("alan: %+v", alan)
			}

			// Nothing changed: an empty incremental pass.
			cp := last.Checkpoint
			recs, last, _ = pull(t, c, cp)
			if len(recs) != 0 || last.Listing || last.Restart {
				t.Fatalf("unchanged: %d records, listing %v", len(recs), last.Listing)
			}
			cp = last.Checkpoint

			// Remote add, edit, delete: only those.
			s.put(t, book, "edsger.vcf", "BEGIN:VCARD\nVERSION:4.0\nUID:edsger\nFN:Edsger Dijkstra\nEND:VCARD")
			s.put(t, book, "alan.vcf", strings.Replace(alanV4, "alan@example.com", "turing@example.com", 1))
			s.remove(t, book, "grace.vcf")
			recs, last, _ = pull(t, c, cp)
			got = byID(recs)
			if len(recs) != 3 || got["edsger.vcf"].Values["lastName"] != "Dijkstra" ||
				got["alan.vcf"].Values["email"] != "turing@example.com" || !got["grace.vcf"].Deleted {
				t.Fatalf("incremental: %+v", recs)
			}

			// A refused token: a full pass listing every card, a restart (the engine sweeps the
			// others), with a note.
			var bad checkpoint
			_ = json.Unmarshal(last.Checkpoint, &bad)
			bad.Token = bad.Token[:len(bad.Token)-4] + "0000"
			raw, _ := json.Marshal(bad)
			recs, last, _ = pull(t, c, raw)
			if len(recs) != 3 || !last.Listing || !last.Restart || byID(recs)["ada.vcf"].Values["firstName"] != "Ada" {
				t.Fatalf("after a refused token: %d records, listing %v, restart %v", len(recs), last.Listing, last.Restart)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Cards without a UID, or with another's, are records by href with a note; a card that does
// not parse is only a note. None stops the pass.
func TestPullOddCards(t *testing.T) {
	t.Parallel()
	for _, s := range needServers(t) {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			_, book := s.book(t)
			put := s.put
			if s.name == "radicale" {
				put = s.drop // Radicale refuses a duplicate UID through PUT
			}
			put(t, book, "a.vcf", "BEGIN:VCARD\nVERSION:3.0\nUID:same\nFN:One Person\nEND:VCARD")
			put(t, book, "b.vcf", "BEGIN:VCARD\nVERSION:3.0\nUID:same\nFN:Other Person\nEND:VCARD")
			want, wantNotes := 2, 1
			if s.name == "xandikos" {
				// Radicale fails the whole book on a card without UID or FN; Xandikos serves them.
				put(t, book, "c.vcf", "BEGIN:VCARD\nVERSION:3.0\nFN:No Uid\nEND:VCARD")
				put(t, book, "d.vcf", "BEGIN:VCARD\nVERSION:3.0\nUID:d\nEND:VCARD")
				want, wantNotes = 4, 2
			}
			c := s.connector(book)
			recs, _, _ := pull(t, c, nil)
			notes := 0
			for _, r := range recs {
				if r.Note != "" {
					notes++
				}
			}
			if len(recs) != want || notes != wantNotes {
				t.Fatalf("%d records, %d notes: %+v", len(recs), notes, recs)
			}
		})
	}
}

// Without sync-collection the connector lists etags (stubs) and fetches what the engine asks.
func TestPullEtagListing(t *testing.T) {
	t.Parallel()
	for _, s := range needServers(t) {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			_, book := s.book(t)
			s.put(t, book, "ada.vcf", adaV3)
			s.put(t, book, "alan.vcf", alanV4)
			c := s.connector(book)
			c.NoSyncCollection = true
			recs, last, _ := pull(t, c, nil)
			if len(recs) != 2 || !recs[0].Stub || recs[0].ETag == "" || !last.Listing || last.Restart {
				t.Fatalf("listing: %+v", recs)
			}
			// Every pass lists all: one from a checkpoint drops it (a restart, swept).
			again, next, _ := pull(t, c, last.Checkpoint)
			if len(again) != 2 || !next.Listing || !next.Restart {
				t.Fatalf("second listing: %d records, listing %v restart %v", len(again), next.Listing, next.Restart)
			}
			full, n, err := c.Fetch(context.Background(), []string{recs[0].RemoteID, recs[1].RemoteID})
			if err != nil || n != 1 || len(full) != 2 || full[0].Values["email"] == "" {
				t.Fatalf("fetch: %d requests, %v, %+v", n, err, full)
			}
		})
	}
}

// Write creates with If-None-Match, updates with If-Match keeping what contactd does not
// model, refuses stale etags as conflicts, and deletes; what it wrote pulls back unchanged.
func TestWrite(t *testing.T) {
	t.Parallel()
	for _, s := range needServers(t) {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			_, book := s.book(t)
			s.put(t, book, "ada.vcf", adaV3)
			c := s.connector(book)
			recs, last, _ := pull(t, c, nil)
			ada := recs[0]

			vals := map[string]string{"firstName": "Augusta Ada", "lastName": "King", "email": "ada@example.com", "title": "Countess",
				"phone": "+44 20 7946 0018", "company": "Analytical Engines"}
			res, err := c.Write(ctx, []syncengine.Write{{RemoteID: ada.RemoteID, IfMatch: ada.ETag, Values: vals, Raw: ada.Raw,
				Emails: []string{"ada@work.example", "countess@example.com"}, Tags: []string{"math"}}})
			if err != nil || res[0].Err != nil || res[0].Conflict || res[0].ETag == "" || res[0].ETag == ada.ETag {
				t.Fatalf("update: %v %+v", err, res)
			}
			// Stale etag: a conflict, nothing written.
			stale, err := c.Write(ctx, []syncengine.Write{{RemoteID: ada.RemoteID, IfMatch: ada.ETag, Values: map[string]string{"firstName": "X"}, Raw: ada.Raw}})
			if err != nil || !stale[0].Conflict {
				t.Fatalf("stale update: %v %+v", err, stale)
			}
			// Pulled back: what was written, with the card's other properties kept.
			recs, last, _ = pull(t, c, last.Checkpoint)
			if len(recs) != 1 {
				t.Fatalf("pulled back %d records", len(recs))
			}
			back := recs[0]
			if !mapsEqual(back.Values, map[string]string{"firstName": "Augusta Ada", "lastName": "King", "email": "ada@example.com",
				"title": "Countess", "phone": "+44 20 7946 0018", "company": "Analytical Engines"}) || back.ETag != res[0].ETag ||
				!slices.Equal(back.Emails, []string{"ada@work.example", "countess@example.com"}) || !slices.Equal(back.Tags, []string{"math"}) {
				t.Fatalf("pulled back: %+v (etag written %s)", back, res[0].ETag)
			}
			for _, kept := range []string{"X-CUSTOM:kept", "NOTE:First programmer", "ORG:Analytical Engines;Research", "UID:ada", "EMAIL;TYPE=work:ada@work.example"} {
				if !strings.Contains(string(back.Raw), kept) {
					t.Fatalf("%q was lost:\n%s", kept, back.Raw)
				}
			}

			// Create: a new card at Key.vcf; the same create again (a retry after a crash) is a
			// conflict naming it, not a second card. Then delete it with a stale etag (conflict)
			// and the right one.
			grace := syncengine.Write{Key: "0b9c4f5e-8d3a-4f1e-9a77-2c1d5e6f7a80", Values: map[string]string{"firstName": "Grace", "lastName": "Hopper", "email": "grace@example.com"}}
			created, err := c.Write(ctx, []syncengine.Write{grace})
			if err != nil || created[0].Err != nil || created[0].RemoteID != c.book.Path+grace.Key+".vcf" || created[0].ETag == "" {
				t.Fatalf("create: %v %+v", err, created)
			}
			again, err := c.Write(ctx, []syncengine.Write{grace})
			if err != nil || !again[0].Conflict || again[0].RemoteID != created[0].RemoteID {
				t.Fatalf("create again: %v %+v", err, again)
			}
			recs, last, _ = pull(t, c, last.Checkpoint)
			if len(recs) != 1 || recs[0].Values["lastName"] != "Hopper" || recs[0].ETag != created[0].ETag {
				t.Fatalf("created card pulled back: %+v", recs)
			}
			del, err := c.Write(ctx, []syncengine.Write{{RemoteID: created[0].RemoteID, IfMatch: ada.ETag, Delete: true}})
			if err != nil || !del[0].Conflict {
				t.Fatalf("stale delete: %v %+v", err, del)
			}
			del, err = c.Write(ctx, []syncengine.Write{{RemoteID: created[0].RemoteID, IfMatch: created[0].ETag, Delete: true}})
			if err != nil || del[0].Err != nil || del[0].Conflict {
				t.Fatalf("delete: %v %+v", err, del)
			}
			recs, _, _ = pull(t, c, last.Checkpoint)
			if len(recs) != 1 || !recs[0].Deleted {
				t.Fatalf("deleted card pulled back: %+v", recs)
			}
		})
	}
}

// A server that moves a created card elsewhere (Location) and answers no ETag: the write
// reports where the card is and asks for its etag.
func TestWriteServerMovesAndRewrites(t *testing.T) {
	t.Parallel()
	for _, s := range needServers(t) {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			_, book := s.book(t)
			target, _ := url.Parse(s.base)
			proxy := httputil.NewSingleHostReverseProxy(target)
			moved := ""
			proxy.ModifyResponse = func(r *http.Response) error {
				if r.Request.Method == http.MethodPut {
					r.Header.Del("ETag")
					if moved != "" {
						r.Header.Set("Location", moved)
					}
				}
				return nil
			}
			front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPut && r.Header.Get("If-None-Match") == "*" {
					// Store the card under another name, as servers that pick their own hrefs do.
					dir := r.URL.Path[:strings.LastIndexByte(r.URL.Path, '/')+1]
					r.URL.Path = dir + "server-chosen.vcf"
					moved = r.URL.Path
				}
				proxy.ServeHTTP(w, r)
			}))
			t.Cleanup(front.Close)
			c := s.connector(front.URL + strings.TrimPrefix(book, s.base))
			res, err := c.Write(context.Background(), []syncengine.Write{{Key: "grace", Values: map[string]string{"firstName": "Grace", "email": "grace@example.com"}}})
			if err != nil || res[0].Err != nil || !strings.HasSuffix(res[0].RemoteID, "/server-chosen.vcf") || res[0].ETag == "" {
				t.Fatalf("create: %v %+v", err, res)
			}
			recs, _, _ := pull(t, c, nil)
			if len(recs) != 1 || recs[0].RemoteID != res[0].RemoteID || recs[0].ETag != res[0].ETag {
				t.Fatalf("pulled %+v, wrote %+v", recs, res)
			}
		})
	}
}

// A push's writes are in flight Writers at a time, each with its own precondition and result:
// the first Writers PUTs are held until all of them have arrived (serial writes would never
// get there), no more than Writers are ever in flight, and the results come back in order —
// creates where their keys say, a stale If-Match a conflict, a create at a taken key a
// conflict naming it.
func TestWriteConcurrent(t *testing.T) {
	t.Parallel()
	for _, s := range needServers(t) {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			_, book := s.book(t)
			s.put(t, book, "ada.vcf", adaV3)
			const writers = 4
			target, _ := url.Parse(s.base)
			proxy := httputil.NewSingleHostReverseProxy(target)
			var mu sync.Mutex
			inFlight, most := 0, 0
			all := make(chan struct{})
			front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPut {
					proxy.ServeHTTP(w, r)
					return
				}
				mu.Lock()
				inFlight++
				most = max(most, inFlight)
				if inFlight == writers {
					select {
					case <-all:
					default:
						close(all)
					}
				}
				mu.Unlock()
				select {
				case <-all:
				case <-time.After(time.Minute):
					http.Error(w, "the writes were not concurrent", http.StatusTeapot)
				}
				proxy.ServeHTTP(w, r)
				mu.Lock()
				inFlight--
				mu.Unlock()
			}))
			t.Cleanup(front.Close)
			c := s.connector(front.URL + strings.TrimPrefix(book, s.base))
			c.Writers = writers
			recs, _, _ := pull(t, c, nil)
			ada := recs[0]
			var ws []syncengine.Write
			for i := range 10 {
				ws = append(ws, syncengine.Write{Key: fmt.Sprintf("c%d", i), Values: map[string]string{"firstName": fmt.Sprintf("C%d", i)}})
			}
			ws = append(ws, syncengine.Write{RemoteID: ada.RemoteID, IfMatch: `"stale"`, Values: map[string]string{"firstName": "X"}, Raw: ada.Raw},
				syncengine.Write{Key: "c3", Values: map[string]string{"firstName": "again"}})
			res, err := c.Write(ctx, ws)
			if err != nil || len(res) != len(ws) {
				t.Fatalf("write: %v, %d results", err, len(res))
			}
			// Whichever of c3's two creates came first made the card; the other is a conflict.
			if res[3].Conflict {
				res[3], res[11] = res[11], res[3]
			}
			for i := range 10 {
				if r := res[i]; r.Err != nil || r.Conflict || !strings.HasSuffix(r.RemoteID, fmt.Sprintf("/c%d.vcf", i)) || r.ETag == "" {
					t.Errorf("create %d: %+v", i, r)
				}
			}
			if r := res[10]; !r.Conflict || r.RemoteID != ada.RemoteID {
				t.Errorf("stale update: %+v", r)
			}
			if r := res[11]; !r.Conflict || !strings.HasSuffix(r.RemoteID, "/c3.vcf") {
				t.Errorf("create at a taken key: %+v", r)
			}
			if most > writers {
				t.Errorf("%d writes in flight at once, Writers is %d", most, writers)
			}
			got, _, _ := pull(t, s.connector(book), nil)
			if len(got) != 11 {
				t.Errorf("the book has %d cards, want 11", len(got))
			}
		})
	}
}
