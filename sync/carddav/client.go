package carddav

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
)

// MaxBody bounds a response body (a multistatus of a whole book's etags, or a batch of cards).
const MaxBody = 256 << 20

// client sends a source's requests with its credentials and counts them. It is safe for
// concurrent use (a push sends several writes at once).
type client struct {
	http               *http.Client
	username, password string
	requests           atomic.Int64
}

// sent is how many requests the client has sent.
func (c *client) sent() int { return int(c.requests.Load()) }

// Do sends a request with the source's credentials (webdav.HTTPClient, for discovery).
func (c *client) Do(req *http.Request) (*http.Response, error) {
	if c.username != "" || c.password != "" {
		req.SetBasicAuth(c.username, c.password)
	}
	c.requests.Add(1)
	return c.http.Do(req)
}

// statusError is a response that is not the success a request expects.
type statusError struct {
	method, url string
	code        int
	body        string
}

func (e *statusError) Error() string {
	msg := fmt.Sprintf("carddav: %s %s: %d %s", e.method, redact(e.url), e.code, http.StatusText(e.code))
	if b := strings.TrimSpace(e.body); b != "" {
		msg += ": " + truncate(b, 200)
	}
	return msg
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// redact drops credentials and the query of a URL for errors.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "the source URL"
	}
	p.RawQuery, p.User = "", nil
	return p.String()
}

// send sends a request and reads its answer; a status outside ok is a *statusError.
func (c *client) send(ctx context.Context, method, u string, header http.Header, body []byte, ok ...int) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, nil, fmt.Errorf("carddav: request: %w", err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("carddav: %s %s: %w", method, redact(u), err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return nil, nil, fmt.Errorf("carddav: read %s %s: %w", method, redact(u), err)
	}
	if len(b) > MaxBody {
		return nil, nil, fmt.Errorf("carddav: %s %s: the answer is over %d bytes", method, redact(u), MaxBody)
	}
	for _, code := range ok {
		if resp.StatusCode == code {
			return resp, b, nil
		}
	}
	return resp, b, &statusError{method: method, url: u, code: resp.StatusCode, body: string(b)}
}

// multistatus is a WebDAV multistatus answer (RFC 4918, with RFC 6578's sync-token).
type multistatus struct {
	Responses []msResponse `xml:"DAV: response"`
	SyncToken string       `xml:"DAV: sync-token"`
}

type msResponse struct {
	Hrefs     []string     `xml:"DAV: href"`
	Status    string       `xml:"DAV: status"`
	Propstats []msPropstat `xml:"DAV: propstat"`
}

type msPropstat struct {
	Prop   msProp `xml:"DAV: prop"`
	Status string `xml:"DAV: status"`
}

type msProp struct {
	ETag         *string   `xml:"DAV: getetag"`
	Data         *string   `xml:"urn:ietf:params:xml:ns:carddav address-data"`
	ResourceType *innerXML `xml:"DAV: resourcetype"`
	Reports      *innerXML `xml:"DAV: supported-report-set"`
	SyncToken    *string   `xml:"DAV: sync-token"`
}

type innerXML struct {
	Inner string `xml:",innerxml"`
}

// statusCode reads the code of an HTTP status line ("HTTP/1.1 404 Not Found"); 0 if none.
func statusCode(line string) int {
	f := strings.Fields(line)
	if len(f) < 2 {
		return 0
	}
	var code int
	_, _ = fmt.Sscanf(f[1], "%d", &code)
	return code
}

// entry is one resource of a multistatus with its successful properties.
type entry struct {
	href   string // the path, unescaped
	status int    // the response's status, or 200 when it has properties
	prop   msProp
}

// entries flattens a multistatus, resolving hrefs against base to unescaped paths.
func (ms *multistatus) entries(base *url.URL) []entry {
	var out []entry
	for _, r := range ms.Responses {
		for _, h := range r.Hrefs {
			e := entry{href: resolvePath(base, h), status: statusCode(r.Status)}
			for _, ps := range r.Propstats {
				if code := statusCode(ps.Status); code/100 != 2 {
					continue
				}
				if e.status == 0 {
					e.status = 200
				}
				p := ps.Prop
				if p.ETag != nil {
					e.prop.ETag = p.ETag
				}
				if p.Data != nil {
					e.prop.Data = p.Data
				}
				if p.ResourceType != nil {
					e.prop.ResourceType = p.ResourceType
				}
				if p.Reports != nil {
					e.prop.Reports = p.Reports
				}
				if p.SyncToken != nil {
					e.prop.SyncToken = p.SyncToken
				}
			}
			out = append(out, e)
		}
	}
	return out
}

// resolvePath turns an href (absolute, or a path, escaped) into an unescaped path.
func resolvePath(base *url.URL, href string) string {
	u, err := base.Parse(strings.TrimSpace(href))
	if err != nil {
		return strings.TrimSpace(href)
	}
	return u.Path
}

// davRequest sends a PROPFIND or REPORT and decodes its multistatus.
func (c *client) davRequest(ctx context.Context, method, u, depth, body string) (*multistatus, error) {
	h := http.Header{"Content-Type": {`application/xml; charset="utf-8"`}}
	if depth != "" {
		h.Set("Depth", depth)
	}
	_, b, err := c.send(ctx, method, u, h, []byte(body), http.StatusMultiStatus)
	if err != nil {
		return nil, err
	}
	var ms multistatus
	if err := xml.Unmarshal(b, &ms); err != nil {
		return nil, fmt.Errorf("carddav: %s %s: the multistatus does not parse: %w", method, redact(u), err)
	}
	return &ms, nil
}

// escapeXML escapes text for an XML element.
func escapeXML(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
