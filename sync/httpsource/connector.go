package httpsource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/contactd/contactd/sync/source"
	"github.com/contactd/contactd/sync/syncengine"
	"github.com/tidwall/gjson"
)

// Connector pulls one http source.
type Connector struct {
	cfg     *Config
	overlap time.Duration
	// Client sends the requests (default: a client with a 60s timeout).
	Client *http.Client
	// MaxAttempts bounds the tries of one page on 429, 503 and network errors (default 6), and
	// MaxWait a single wait (default 2m; a longer Retry-After fails the page).
	MaxAttempts int
	MaxWait     time.Duration
}

// DefaultOverlap is the overlap window of incremental pulls.
const DefaultOverlap = 5 * time.Minute

// MaxBody bounds a response body.
const MaxBody = 64 << 20

// New builds the connector of an http source (a syncengine.NewConnector).
func New(src *source.Source, secrets map[string]string) (syncengine.Connector, error) {
	cfg, err := load(src.Config, secrets)
	if err != nil {
		return nil, err
	}
	c := &Connector{cfg: cfg, overlap: DefaultOverlap, Client: &http.Client{Timeout: 60 * time.Second}, MaxAttempts: 6, MaxWait: 2 * time.Minute}
	if cfg.Overlap != "" {
		if c.overlap, err = time.ParseDuration(cfg.Overlap); err != nil {
			return nil, fmt.Errorf("httpsource: overlap: %w", err)
		}
	}
	return c, nil
}

// checkpoint is an http source's position.
type checkpoint struct {
	// Cursor is the next page's cursor within a pass ("" at a pass's start).
	Cursor string `json:"cursor,omitempty"`
	// Since is the updated-since of the pass (the latest change the previous pass saw).
	Since string `json:"since,omitempty"`
	// High is the latest change seen in this pass so far.
	High string `json:"high,omitempty"`
	// After, within an updated-since pass without cursors, is the updated-since of the next page.
	After string `json:"after,omitempty"`
}

// pageError is a failed page with the requests it took.
type pageError struct {
	err      error
	requests int
}

func (e *pageError) Error() string { return e.err.Error() }
func (e *pageError) Unwrap() error { return e.err }
func (e *pageError) Requests() int { return e.requests }

// Changes fetches the page after the checkpoint.
func (c *Connector) Changes(ctx context.Context, raw json.RawMessage) (*syncengine.Page, error) {
	var cp checkpoint
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &cp); err != nil {
			return nil, fmt.Errorf("httpsource: checkpoint: %w", err)
		}
	}
	u, err := url.Parse(c.cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("httpsource: url: %w", err)
	}
	q := u.Query()
	if cp.Cursor != "" {
		q.Set(c.cfg.CursorParam, cp.Cursor)
	}
	if c.cfg.UpdatedSinceParam != "" {
		switch {
		case cp.After != "":
			q.Set(c.cfg.UpdatedSinceParam, cp.After)
		case cp.Since != "":
			q.Set(c.cfg.UpdatedSinceParam, c.minusOverlap(cp.Since))
		}
	}
	if c.cfg.PageSize > 0 {
		q.Set(cmpOr(c.cfg.PageSizeParam, "limit"), strconv.Itoa(c.cfg.PageSize))
	}
	u.RawQuery = q.Encode()
	body, requests, err := c.get(ctx, u.String())
	if err != nil {
		return nil, &pageError{err: err, requests: requests}
	}
	page, err := c.parse(body, cp)
	if err != nil {
		return nil, &pageError{err: err, requests: requests}
	}
	page.Requests = requests
	return page, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (c *Connector) minusOverlap(since string) string {
	t, err := time.Parse(time.RFC3339Nano, since)
	if err != nil {
		return since
	}
	return t.Add(-c.overlap).UTC().Format(time.RFC3339Nano)
}

// later returns the later of two updated values (RFC 3339 compared as times, else as text).
func later(a, b string) string {
	if a == "" {
		return b
	}
	if b == "" {
		return a
	}
	ta, ea := time.Parse(time.RFC3339Nano, a)
	tb, eb := time.Parse(time.RFC3339Nano, b)
	if ea == nil && eb == nil {
		if tb.After(ta) {
			return b
		}
		return a
	}
	if b > a {
		return b
	}
	return a
}

func (c *Connector) parse(body []byte, cp checkpoint) (*syncengine.Page, error) {
	if !gjson.ValidBytes(body) {
		return nil, errors.New("httpsource: the response is not JSON")
	}
	items := gjson.ParseBytes(body)
	if c.cfg.ItemsPath != "" {
		items = items.Get(c.cfg.ItemsPath)
	}
	if !items.IsArray() {
		return nil, fmt.Errorf("httpsource: no array of items at %q", c.cfg.ItemsPath)
	}
	page := &syncengine.Page{}
	high := ""
	for _, it := range items.Array() {
		r := syncengine.Record{RemoteID: it.Get(c.cfg.IDPath).String(), Values: map[string]string{}}
		if c.cfg.UpdatedPath != "" {
			r.Updated = it.Get(c.cfg.UpdatedPath).String()
			high = later(high, r.Updated)
		}
		if c.cfg.DeletedPath != "" {
			r.Deleted = it.Get(c.cfg.DeletedPath).Bool()
		}
		for field, path := range c.cfg.FieldMapping {
			if v := it.Get(path); v.Exists() && v.Type != gjson.Null {
				r.Values[field] = v.String()
			}
		}
		page.Records = append(page.Records, r)
	}
	next := checkpoint{Since: cp.Since, High: later(cp.High, high)}
	switch {
	case c.cfg.NextCursorPath != "":
		if cur := gjson.GetBytes(body, c.cfg.NextCursorPath).String(); cur != "" && len(page.Records) > 0 {
			next.Cursor, page.More = cur, true
		}
	case c.cfg.UpdatedSinceParam != "" && c.cfg.PageSize > 0 && len(page.Records) >= c.cfg.PageSize:
		// Paging by updated-since alone: the next page starts at the latest change of this
		// one, unless that did not move (a page full of one instant cannot be paged past).
		if high != "" && high != cp.After {
			next.After, page.More = high, true
		}
	}
	if !page.More {
		next = checkpoint{Since: next.High}
		if next.Since == "" {
			next.Since = cp.Since
		}
	}
	b, err := json.Marshal(next)
	if err != nil {
		return nil, err
	}
	page.Checkpoint = b
	return page, nil
}

// get fetches a URL, retrying 429, 503 and network errors with backoff (Retry-After when the
// server sends one), and returns the body and the requests it took.
func (c *Connector) get(ctx context.Context, u string) ([]byte, int, error) {
	requests := 0
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, requests, fmt.Errorf("httpsource: request: %w", err)
		}
		req.Header.Set("Accept", "application/json")
		for k, v := range c.cfg.Headers {
			req.Header.Set(k, v)
		}
		if c.cfg.Token != "" {
			req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
		} else if c.cfg.Password != "" {
			req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
		}
		requests++
		resp, err := c.Client.Do(req)
		var wait time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil, requests, ctx.Err()
			}
			wait = backoff(attempt)
			err = fmt.Errorf("httpsource: GET %s: %w", redact(u), err)
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
			wait = retryAfter(resp.Header.Get("Retry-After"), attempt)
			_ = resp.Body.Close()
			err = fmt.Errorf("httpsource: GET %s: %s", redact(u), resp.Status)
		case resp.StatusCode/100 != 2:
			_ = resp.Body.Close()
			return nil, requests, fmt.Errorf("httpsource: GET %s: %s", redact(u), resp.Status)
		default:
			body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
			_ = resp.Body.Close()
			if err != nil {
				return nil, requests, fmt.Errorf("httpsource: read %s: %w", redact(u), err)
			}
			if len(body) > MaxBody {
				return nil, requests, fmt.Errorf("httpsource: %s: the response is over %d bytes", redact(u), MaxBody)
			}
			return body, requests, nil
		}
		if attempt >= c.MaxAttempts {
			return nil, requests, fmt.Errorf("%w (gave up after %d attempts)", err, attempt)
		}
		if wait > c.MaxWait {
			return nil, requests, fmt.Errorf("%w (asked to wait %s, more than %s)", err, wait, c.MaxWait)
		}
		select {
		case <-ctx.Done():
			return nil, requests, ctx.Err()
		case <-time.After(wait):
		}
	}
}

func backoff(attempt int) time.Duration { return time.Duration(1<<min(attempt-1, 6)) * time.Second }

// retryAfter reads a Retry-After header (seconds or an HTTP date), else backs off.
func retryAfter(h string, attempt int) time.Duration {
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(time.Until(t), 0)
	}
	return backoff(attempt)
}

// redact drops the query of a URL for errors (it may hold a key).
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "the source URL"
	}
	p.RawQuery, p.User = "", nil
	return p.String()
}

// Fetch is not needed: an http page carries whole records.
func (c *Connector) Fetch(context.Context, []string) ([]syncengine.Record, int, error) {
	return nil, 0, syncengine.ErrNotSupported
}

// Write is not supported: http sources only pull.
func (c *Connector) Write(context.Context, []syncengine.Write) ([]syncengine.WriteResult, error) {
	return nil, syncengine.ErrNotSupported
}
