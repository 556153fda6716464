package syncengine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/apptest"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/internal/runs"
	"github.com/contactd/contactd/sync/source"
	"github.com/contactd/contactd/sync/syncengine"
	"github.com/google/uuid"
)

// card is one record of the fake remote.
type card struct {
	values               map[string]string
	emails, phones, tags []string
	raw                  []byte
	etag                 int
	version              int // the remote's change counter when it last changed
	deleted              bool
	note                 string // Record.Note (with no values: a record that does not parse)
	key                  string // the Write.Key it was created at
}

// book is an in-memory remote address book: a connector over it lists changes since a version
// (or, in listing mode, every record on a full sync), fetches, and writes with If-Match.
type book struct {
	mu      sync.Mutex
	cards   map[string]*card
	version int
	next    int
	listing bool
	writes  []syncengine.Write
	// beforeWrite runs before each write is applied (to change the record under it).
	beforeWrite func(w syncengine.Write)
	// fail, when it returns an error, fails the write with it (WriteResult.Err).
	fail func(w syncengine.Write) error
}

func newBook() *book { return &book{cards: map[string]*card{}} }

// put creates or changes a record.
func (bk *book) put(id string, values map[string]string, emails, phones, tags []string) {
	bk.mu.Lock()
	defer bk.mu.Unlock()
	bk.putLocked(id, values, emails, phones, tags)
}

func (bk *book) putLocked(id string, values map[string]string, emails, phones, tags []string) {
	bk.version++
	c := bk.cards[id]
	if c == nil {
		c = &card{}
		bk.cards[id] = c
	}
	c.values, c.emails, c.phones, c.tags = values, emails, phones, tags
	c.raw = []byte("BEGIN:VCARD\nX-KEPT:" + id + "\nEND:VCARD")
	c.etag++
	c.version, c.deleted = bk.version, false
}

func (bk *book) remove(id string) {
	bk.mu.Lock()
	defer bk.mu.Unlock()
	bk.version++
	c := bk.cards[id]
	c.deleted, c.version = true, bk.version
	c.etag++
}

func (bk *book) get(id string) *card {
	bk.mu.Lock()
	defer bk.mu.Unlock()
	c := bk.cards[id]
	if c == nil {
		return nil
	}
	cp := *c
	return &cp
}

func (bk *book) record(id string, c *card) syncengine.Record {
	return syncengine.Record{RemoteID: id, ETag: strconv.Itoa(c.etag), Values: maps.Clone(c.values), Emails: c.emails,
		Phones: c.phones, Tags: c.tags, Raw: c.raw, Deleted: c.deleted, Note: c.note}
}

func (bk *book) Changes(_ context.Context, cp json.RawMessage) (*syncengine.Page, error) {
	bk.mu.Lock()
	defer bk.mu.Unlock()
	since := -1
	if cp != nil {
		_ = json.Unmarshal(cp, &since)
	}
	page := &syncengine.Page{Checkpoint: json.RawMessage(strconv.Itoa(bk.version)), Requests: 1, Listing: bk.listing}
	for _, id := range slices.Sorted(maps.Keys(bk.cards)) {
		c := bk.cards[id]
		if bk.listing && since < 0 {
			if !c.deleted {
				page.Records = append(page.Records, bk.record(id, c))
			}
			continue
		}
		if c.version > since {
			page.Records = append(page.Records, bk.record(id, c))
		}
	}
	return page, nil
}

func (bk *book) Fetch(_ context.Context, ids []string) ([]syncengine.Record, int, error) {
	bk.mu.Lock()
	defer bk.mu.Unlock()
	var out []syncengine.Record
	for _, id := range ids {
		if c := bk.cards[id]; c != nil {
			out = append(out, bk.record(id, c))
		}
	}
	return out, len(ids), nil
}

func (bk *book) Write(_ context.Context, ws []syncengine.Write) ([]syncengine.WriteResult, error) {
	out := make([]syncengine.WriteResult, len(ws))
	for i, w := range ws {
		if bk.beforeWrite != nil {
			bk.beforeWrite(w)
		}
		if bk.fail != nil {
			if err := bk.fail(w); err != nil {
				out[i] = syncengine.WriteResult{RemoteID: w.RemoteID, Err: err}
				continue
			}
		}
		bk.mu.Lock()
		bk.writes = append(bk.writes, w)
		id := w.RemoteID
		if id == "" {
			for rid, c := range bk.cards {
				if c.key == w.Key && !c.deleted {
					out[i] = syncengine.WriteResult{RemoteID: rid, Conflict: true}
				}
			}
			if out[i].Conflict {
				bk.mu.Unlock()
				continue
			}
			bk.next++
			id = fmt.Sprintf("new-%d", bk.next)
		} else if c := bk.cards[id]; c == nil || c.deleted || strconv.Itoa(c.etag) != w.IfMatch {
			out[i] = syncengine.WriteResult{RemoteID: id, Conflict: true}
			bk.mu.Unlock()
			continue
		}
		if w.Delete {
			bk.version++
			c := bk.cards[id]
			c.deleted, c.version = true, bk.version
			c.etag++
		} else {
			bk.putLocked(id, maps.Clone(w.Values), w.Emails, w.Phones, w.Tags)
			if w.RemoteID == "" {
				bk.cards[id].key = w.Key
			}
		}
		out[i] = syncengine.WriteResult{RemoteID: id, ETag: strconv.Itoa(bk.cards[id].etag)}
		bk.mu.Unlock()
	}
	return out, nil
}

func (bk *book) takeWrites() []syncengine.Write {
	bk.mu.Lock()
	defer bk.mu.Unlock()
	w := bk.writes
	bk.writes = nil
	return w
}

type fakeType struct{}

func (fakeType) CheckConfig(cfg json.RawMessage, _ source.Direction) (json.RawMessage, map[string]string, db.FieldErrors) {
	return cfg, nil, nil
}

// twoWay is a test bundle with a source over a fake book, and its own engine.
type twoWay struct {
	apptest.Bundle
	book *book
	// other is a second book, for sources of type "fake2".
	other   *book
	sources *source.Store
	engine  *syncengine.Engine
	src     *source.Source
}

func setupBook(t *testing.T, in source.NewSource) twoWay {
	t.Helper()
	b := apptest.New(t)
	bk, other := newBook(), newBook()
	st := source.NewStore(b.App.DB, nil, map[string]source.Type{"fake": fakeType{}, "fake2": fakeType{}})
	eng := &syncengine.Engine{Sources: st, Matcher: b.App.Engine, Tags: b.App.Tags,
		Connectors: map[string]syncengine.NewConnector{
			"fake":  func(*source.Source, map[string]string) (syncengine.Connector, error) { return bk, nil },
			"fake2": func(*source.Source, map[string]string) (syncengine.Connector, error) { return other, nil },
		}}
	in.Type, in.Name = "fake", "book"
	if in.Config == nil {
		in.Config = json.RawMessage(`{}`)
	}
	src, err := st.Create(b.Ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	return twoWay{Bundle: b, book: bk, other: other, sources: st, engine: eng, src: src}
}

// run works a run of the source: the one a merge or an undo queued, or a new one.
func (w twoWay) run(t *testing.T, o source.RunOptions) *source.Run {
	t.Helper()
	run, started, err := w.sources.StartRunWith(w.Ctx, w.src.ID, o)
	if err != nil || (!started && run.Status != runs.Queued) {
		t.Fatalf("start run: %v (started %v)", err, started)
	}
	out, err := w.engine.Run(w.Ctx, run.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (w twoWay) sync(t *testing.T) *source.Run {
	t.Helper()
	out := w.run(t, source.RunOptions{})
	if out.Status != runs.Succeeded {
		t.Fatalf("run %s: %+v", out.Status, out.Stats.Errors)
	}
	return out
}

func (w twoWay) contactOf(t *testing.T, remoteID string) *contact.Contact {
	t.Helper()
	var id uuid.UUID
	if err := w.Pool.QueryRow(w.Ctx, `SELECT contact_id FROM sync_links WHERE source_id = $1 AND remote_id = $2`, w.src.ID, remoteID).Scan(&id); err != nil {
		t.Fatalf("link of %s: %v", remoteID, err)
	}
	c, err := w.App.Contacts.GetContact(w.Ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (w twoWay) alternates(t *testing.T, id uuid.UUID, kind string) []string {
	t.Helper()
	alts, err := contact.AlternatesOf(w.Ctx, w.Pool, []uuid.UUID{id})
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, a := range alts[id] {
		if a.Kind == kind {
			out = append(out, a.Value)
		}
	}
	return out
}

func vals(first, last, email string) map[string]string {
	return map[string]string{"firstName": first, "lastName": last, "email": email}
}
