package carddav

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/contactd/contactd/sync/source"
	"github.com/contactd/contactd/sync/syncengine"
)

// DefaultPageSize is how many cards a page carries (one addressbook-multiget).
const DefaultPageSize = 500

// DefaultWriters is how many writes (PUT, DELETE) a push has in flight at once.
const DefaultWriters = 8

// Connector syncs one carddav source's address book.
type Connector struct {
	cfg *Config
	c   *client
	// PageSize is how many cards a page carries and an addressbook-multiget asks for.
	PageSize int
	// Writers bounds how many writes of one Write call are in flight at once (1: one at a
	// time). Each keeps its own precondition and result.
	Writers int
	// NoSyncCollection makes the connector list etags even where the server has
	// sync-collection (tests of the fallback).
	NoSyncCollection bool
	// Now is the clock of the REV written with a card.
	Now func() time.Time

	book    *url.URL // the address book, once found
	canSync bool
	pass    *pass
	uids    map[string]string // UID -> first href with it, in this connector's life
}

// New builds the connector of a carddav source (a syncengine.NewConnector).
func New(src *source.Source, secrets map[string]string) (syncengine.Connector, error) {
	cfg, err := load(src.Config, secrets)
	if err != nil {
		return nil, err
	}
	return newConnector(cfg), nil
}

func newConnector(cfg *Config) *Connector {
	// Keep a connection per writer between the batches of a push.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = DefaultWriters
	return &Connector{cfg: cfg, c: &client{http: &http.Client{Timeout: 5 * time.Minute, Transport: tr}, username: cfg.Username, password: cfg.Password},
		PageSize: DefaultPageSize, Writers: DefaultWriters, Now: time.Now, uids: map[string]string{}}
}

// checkpoint is a carddav source's position.
type checkpoint struct {
	// URL is the configured URL Book was found from: another URL finds the book again.
	URL  string `json:"url,omitempty"`
	Book string `json:"book,omitempty"`
	// Token is the sync token after the last complete pass (sync-collection).
	Token string `json:"token,omitempty"`
}

// pass is one pull from the remote: what it listed, worked through page by page.
type pass struct {
	cp    checkpoint // what the pages before the last commit: a crash redoes the pass
	token string     // the sync token the pass ends with
	full  bool       // the pass lists every card (Page.Listing)
	// restart says the pass drops the checkpoint it was given: its first page says so
	// (Page.Restart).
	restart bool
	deleted []string
	pending []string            // hrefs to fetch (sync-collection)
	stubs   []syncengine.Record // etags to compare (listing)
	notes   []source.RunError
}

// pageError is a failed page with the requests it took.
type pageError struct {
	err      error
	requests int
}

func (e *pageError) Error() string { return e.err.Error() }
func (e *pageError) Unwrap() error { return e.err }
func (e *pageError) Requests() int { return e.requests }

// Changes returns the page of changes after the checkpoint: deletions and changed cards of a
// sync-collection pass, or the etags of a listing where the server has no sync-collection
// (the engine fetches the changed ones). A full pass (a first sync, a refused sync token, a
// listing) says so on every page (Page.Listing), so that the engine sweeps the cards gone.
func (c *Connector) Changes(ctx context.Context, raw json.RawMessage) (*syncengine.Page, error) {
	start := c.c.sent()
	page, err := c.changes(ctx, raw)
	if err != nil {
		c.pass = nil
		return nil, &pageError{err: err, requests: c.c.sent() - start}
	}
	page.Requests = c.c.sent() - start
	return page, nil
}

func (c *Connector) changes(ctx context.Context, raw json.RawMessage) (*syncengine.Page, error) {
	if c.pass == nil {
		var cp checkpoint
		if len(raw) > 0 && string(raw) != "null" {
			if err := json.Unmarshal(raw, &cp); err != nil {
				return nil, fmt.Errorf("carddav: checkpoint: %w", err)
			}
		}
		if err := c.start(ctx, cp); err != nil {
			return nil, err
		}
		// A full pass from a checkpoint (a refused token, another URL, a book without
		// sync-collection) drops it: the engine sweeps it as a full sync.
		c.pass.restart = c.pass.full && cp != (checkpoint{})
	}
	p := c.pass
	page := &syncengine.Page{Notes: p.notes, Listing: p.full, Restart: p.restart}
	p.notes, p.restart = nil, false
	for _, href := range p.deleted {
		page.Records = append(page.Records, syncengine.Record{RemoteID: href, Deleted: true})
	}
	p.deleted = nil
	switch {
	case p.stubs != nil:
		n := min(c.PageSize, len(p.stubs))
		page.Records = append(page.Records, p.stubs[:n]...)
		p.stubs = p.stubs[n:]
	default:
		n := min(c.PageSize, len(p.pending))
		recs, err := c.multiget(ctx, p.pending[:n])
		if err != nil {
			return nil, err
		}
		page.Records = append(page.Records, recs...)
		p.pending = p.pending[n:]
	}
	if len(p.pending) > 0 || len(p.stubs) > 0 {
		page.More = true
		page.Checkpoint, _ = json.Marshal(p.cp)
		return page, nil
	}
	next := p.cp
	next.Token = p.token
	page.Checkpoint, _ = json.Marshal(next)
	c.pass = nil
	return page, nil
}

// start finds the book and lists what changed since cp.
func (c *Connector) start(ctx context.Context, cp checkpoint) error {
	if cp.URL != c.cfg.URL || cp.Book == "" {
		cp = checkpoint{URL: c.cfg.URL}
	}
	if err := c.find(ctx, cp.Book); err != nil {
		return err
	}
	cp.Book = c.book.String()
	p := &pass{cp: cp}
	if !c.canSync || c.NoSyncCollection {
		// No sync-collection: list every etag; the engine fetches the changed ones.
		stubs, err := c.listEtags(ctx)
		if err != nil {
			return err
		}
		p.full, p.stubs = true, stubs
		p.cp.Token = ""
		c.pass = p
		return nil
	}
	res, err := c.syncCollection(ctx, cp.Token)
	if err != nil && cp.Token != "" && tokenRefused(err) {
		// The token is refused (expired, or the book was replaced): a full pass, swept.
		p.notes = append(p.notes, source.RunError{Ref: "sync-token", Message: "the server refused the sync token; full resync"})
		p.cp.Token = ""
		res, err = c.syncCollection(ctx, "")
	}
	if err != nil {
		return err
	}
	p.full = p.cp.Token == ""
	p.token = res.token
	p.deleted = res.deleted
	p.pending = res.changed
	if p.full {
		p.deleted = nil
	}
	c.pass = p
	return nil
}

// tokenRefused says a sync-collection REPORT failed on its token (RFC 6578 3.2: 403 or 409
// with DAV:valid-sync-token; some servers answer 400 or 412, and Xandikos 0.2 a 500 for a
// token it does not know). A full pass is always safe (it is swept), so a server error on a
// token falls back to one too.
func tokenRefused(err error) bool {
	var se *statusError
	if !errors.As(err, &se) {
		return false
	}
	switch {
	case se.code == http.StatusForbidden, se.code == http.StatusConflict, se.code == http.StatusPreconditionFailed:
		return true
	case se.code == http.StatusBadRequest:
		return strings.Contains(se.body, "sync-token")
	}
	return se.code >= 500
}

type syncResult struct {
	token            string
	changed, deleted []string
}

// syncCollection asks for the changes since token ("" for every card) with their etags.
func (c *Connector) syncCollection(ctx context.Context, token string) (*syncResult, error) {
	body := `<?xml version="1.0" encoding="utf-8"?><d:sync-collection xmlns:d="DAV:"><d:sync-token>` + escapeXML(token) +
		`</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>`
	ms, err := c.c.davRequest(ctx, "REPORT", c.book.String(), "", body)
	if err != nil {
		return nil, err
	}
	if ms.SyncToken == "" {
		return nil, fmt.Errorf("carddav: sync-collection of %s answered no sync-token", redact(c.book.String()))
	}
	res := &syncResult{token: ms.SyncToken, changed: []string{}}
	seen := map[string]bool{}
	for _, e := range ms.entries(c.book) {
		if c.isBook(e.href) || seen[e.href] {
			continue
		}
		seen[e.href] = true
		switch {
		case e.status == http.StatusNotFound:
			res.deleted = append(res.deleted, e.href)
		case e.status/100 == 2:
			res.changed = append(res.changed, e.href)
		}
	}
	return res, nil
}

func (c *Connector) isBook(href string) bool {
	return strings.TrimSuffix(href, "/") == strings.TrimSuffix(c.book.Path, "/")
}

// listEtags lists every card of the book with its etag (PROPFIND Depth: 1), as stubs.
func (c *Connector) listEtags(ctx context.Context) ([]syncengine.Record, error) {
	body := `<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/><d:resourcetype/></d:prop></d:propfind>`
	ms, err := c.c.davRequest(ctx, "PROPFIND", c.book.String(), "1", body)
	if err != nil {
		return nil, err
	}
	stubs := []syncengine.Record{}
	for _, e := range ms.entries(c.book) {
		if c.isBook(e.href) || e.status/100 != 2 || e.prop.ETag == nil {
			continue
		}
		if e.prop.ResourceType != nil && strings.Contains(e.prop.ResourceType.Inner, "collection") {
			continue
		}
		stubs = append(stubs, syncengine.Record{RemoteID: e.href, ETag: strings.TrimSpace(*e.prop.ETag), Stub: true})
	}
	return stubs, nil
}

// multiget fetches cards by href (one addressbook-multiget): a card gone is a deleted record,
// a card that does not parse a record with only a note.
func (c *Connector) multiget(ctx context.Context, hrefs []string) ([]syncengine.Record, error) {
	if len(hrefs) == 0 {
		return nil, nil
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><c:addressbook-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><c:address-data/></d:prop>`)
	for _, h := range hrefs {
		b.WriteString("<d:href>" + escapeXML((&url.URL{Path: h}).EscapedPath()) + "</d:href>")
	}
	b.WriteString(`</c:addressbook-multiget>`)
	ms, err := c.c.davRequest(ctx, "REPORT", c.book.String(), "1", b.String())
	if err != nil {
		return nil, err
	}
	got := map[string]entry{}
	for _, e := range ms.entries(c.book) {
		got[e.href] = e
	}
	var recs []syncengine.Record
	for _, h := range hrefs {
		e, ok := got[h]
		switch {
		case !ok || e.status == http.StatusNotFound:
			recs = append(recs, syncengine.Record{RemoteID: h, Deleted: true})
		case e.prop.Data == nil:
			recs = append(recs, syncengine.Record{RemoteID: h, Note: fmt.Sprintf("the server sent no card (status %d)", e.status)})
		default:
			etag := ""
			if e.prop.ETag != nil {
				etag = strings.TrimSpace(*e.prop.ETag)
			}
			recs = append(recs, c.record(h, etag, []byte(*e.prop.Data)))
		}
	}
	return recs, nil
}

// record maps a card. One that does not parse is only a note; one without a UID or with
// another card's UID is a record by its href, with a note.
func (c *Connector) record(href, etag string, raw []byte) syncengine.Record {
	card, err := parseCard(raw)
	if err != nil {
		return syncengine.Record{RemoteID: href, ETag: etag, Note: err.Error()}
	}
	m := mapCard(card)
	r := syncengine.Record{RemoteID: href, ETag: etag, Updated: m.updated, Values: m.values, Emails: m.emails,
		Phones: m.phones, Tags: m.tags, Raw: raw}
	switch first, dup := c.uids[m.uid]; {
	case m.uid == "":
		r.Note = "the card has no UID: imported by its href"
	case dup && first != href:
		r.Note = fmt.Sprintf("the card has the UID of %s: imported by its href", first)
	case !dup:
		c.uids[m.uid] = href
	}
	return r
}

// Fetch returns the cards of stubs by href, in addressbook-multigets of PageSize.
func (c *Connector) Fetch(ctx context.Context, hrefs []string) ([]syncengine.Record, int, error) {
	start := c.c.sent()
	var out []syncengine.Record
	for i := 0; i < len(hrefs); i += c.PageSize {
		recs, err := c.multiget(ctx, hrefs[i:min(i+c.PageSize, len(hrefs))])
		if err != nil {
			return nil, c.c.sent() - start, err
		}
		out = append(out, recs...)
	}
	return out, c.c.sent() - start, nil
}
