package carddav

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/contactd/contactd/sync/syncengine"
	"github.com/emersion/go-vcard"
)

// Write writes cards: an update with If-Match (starting from the card as last synced, so what
// contactd does not model is kept), a create with If-None-Match: * at Key.vcf, a delete with
// If-Match. A failed precondition (412) is a Conflict. The result carries the card's href
// (where the server put it) and its etag after the write, asked for when the server does not
// send one (it rewrote the card). Up to Writers writes are in flight at once; each has its own
// precondition and result, in the order of ws.
func (c *Connector) Write(ctx context.Context, ws []syncengine.Write) ([]syncengine.WriteResult, error) {
	if c.book == nil {
		if err := c.find(ctx, ""); err != nil {
			return nil, err
		}
	}
	out := make([]syncengine.WriteResult, len(ws))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(max(c.Writers, 1), len(ws)) {
		wg.Go(func() {
			for i := range next {
				out[i] = c.write(ctx, &ws[i])
			}
		})
	}
	for i := range ws {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return out, err
	}
	return out, nil
}

func (c *Connector) write(ctx context.Context, w *syncengine.Write) syncengine.WriteResult {
	res := syncengine.WriteResult{RemoteID: w.RemoteID}
	h := http.Header{}
	if w.IfMatch != "" {
		h.Set("If-Match", quoteETag(w.IfMatch))
	}
	if w.Delete {
		if w.RemoteID == "" {
			res.Err = fmt.Errorf("carddav: a delete needs the card's href")
			return res
		}
		resp, _, err := c.c.send(ctx, http.MethodDelete, c.href(w.RemoteID), h, nil, http.StatusOK, http.StatusNoContent, http.StatusNotFound)
		res.Conflict, res.Err = conflict(resp, err)
		return res
	}
	var card vcard.Card
	href := w.RemoteID
	switch {
	case w.RemoteID == "":
		// The href is the engine's key (the contact's id): a create retried after a crash
		// meets the card it made (412, a conflict naming it), never makes a second one.
		if w.Key == "" {
			res.Err = fmt.Errorf("carddav: a create needs a key")
			return res
		}
		card = newCard(w.Key)
		href = c.book.Path + url.PathEscape(w.Key) + ".vcf"
		res.RemoteID = href
		h.Set("If-None-Match", "*")
	case w.Raw != nil:
		var err error
		if card, err = parseCard(w.Raw); err != nil {
			res.Err = fmt.Errorf("carddav: the card as last synced: %w", err)
			return res
		}
	default:
		// Nothing kept of the card: start from the remote's (the precondition still holds).
		_, b, err := c.c.send(ctx, http.MethodGet, c.href(href), nil, nil, http.StatusOK)
		if err != nil {
			res.Err = err
			return res
		}
		if card, err = parseCard(b); err != nil {
			res.Err = fmt.Errorf("carddav: %s: %w", href, err)
			return res
		}
	}
	apply(card, w, c.Now())
	body, err := encodeCard(card)
	if err != nil {
		res.Err = fmt.Errorf("carddav: encode %s: %w", href, err)
		return res
	}
	h.Set("Content-Type", "text/vcard; charset=utf-8")
	resp, _, err := c.c.send(ctx, http.MethodPut, c.href(href), h, body, http.StatusOK, http.StatusCreated, http.StatusNoContent)
	if res.Conflict, res.Err = conflict(resp, err); res.Conflict || res.Err != nil {
		return res
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		if u, err := c.book.Parse(loc); err == nil {
			href = u.Path
		}
	}
	res.RemoteID = href
	res.ETag = strings.TrimSpace(resp.Header.Get("ETag"))
	if res.ETag == "" || strings.HasPrefix(res.ETag, "W/") {
		// No (strong) etag: the server changed the card as it stored it; ask for its etag.
		res.ETag, res.Err = c.etag(ctx, href)
	}
	return res
}

// conflict reads a write's answer: a 412 is a conflict, other failures errors.
func conflict(resp *http.Response, err error) (bool, error) {
	if resp != nil && resp.StatusCode == http.StatusPreconditionFailed {
		return true, nil
	}
	return false, err
}

// etag asks for a card's etag (PROPFIND Depth: 0).
func (c *Connector) etag(ctx context.Context, href string) (string, error) {
	body := `<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>`
	ms, err := c.c.davRequest(ctx, "PROPFIND", c.href(href), "0", body)
	if err != nil {
		return "", err
	}
	for _, e := range ms.entries(c.book) {
		if e.prop.ETag != nil {
			return strings.TrimSpace(*e.prop.ETag), nil
		}
	}
	return "", fmt.Errorf("carddav: %s has no etag", href)
}

// href is the URL of a card's path.
func (c *Connector) href(path string) string {
	return c.book.ResolveReference(&url.URL{Path: path}).String()
}

// quoteETag quotes an etag for a precondition if it is not already.
func quoteETag(e string) string {
	if strings.HasPrefix(e, `"`) || strings.HasPrefix(e, `W/"`) {
		return e
	}
	return `"` + e + `"`
}
