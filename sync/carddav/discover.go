package carddav

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/emersion/go-webdav"
	"github.com/emersion/go-webdav/carddav"
)

// find sets the address book: book (from the checkpoint) when given, else the configured URL
// when it is an address book, else the first address book of the current user's principal
// (RFC 5397 current-user-principal, RFC 6352 addressbook-home-set). It also learns whether
// the book answers sync-collection.
func (c *Connector) find(ctx context.Context, book string) error {
	if book == "" {
		found, err := c.discover(ctx)
		if err != nil {
			return err
		}
		book = found
	}
	u, err := url.Parse(book)
	if err != nil {
		return fmt.Errorf("carddav: address book URL: %w", err)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	c.book = u
	p, err := c.props(ctx, u.String())
	if err != nil {
		return err
	}
	if !p.isBook {
		return fmt.Errorf("carddav: %s is not an address book", redact(u.String()))
	}
	c.canSync = p.canSync
	return nil
}

type bookProps struct{ isBook, canSync bool }

// props reads whether a collection is an address book and answers sync-collection.
func (c *Connector) props(ctx context.Context, u string) (bookProps, error) {
	body := `<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/><d:supported-report-set/></d:prop></d:propfind>`
	ms, err := c.c.davRequest(ctx, "PROPFIND", u, "0", body)
	if err != nil {
		return bookProps{}, err
	}
	base, _ := url.Parse(u)
	var p bookProps
	for _, e := range ms.entries(base) {
		if e.prop.ResourceType != nil && strings.Contains(e.prop.ResourceType.Inner, "addressbook") {
			p.isBook = true
		}
		if e.prop.Reports != nil && strings.Contains(e.prop.Reports.Inner, "sync-collection") {
			p.canSync = true
		}
	}
	return p, nil
}

// discover finds the address book from the configured URL.
func (c *Connector) discover(ctx context.Context) (string, error) {
	base, err := url.Parse(c.cfg.URL)
	if err != nil {
		return "", fmt.Errorf("carddav: url: %w", err)
	}
	p, err := c.props(ctx, c.cfg.URL)
	if err != nil {
		return "", err
	}
	if p.isBook {
		return c.cfg.URL, nil
	}
	wc, err := webdav.NewClient(c.c, c.cfg.URL)
	if err != nil {
		return "", fmt.Errorf("carddav: %w", err)
	}
	principal, err := wc.FindCurrentUserPrincipal(ctx)
	if err != nil || principal == "" || principal == "/" {
		principal = base.Path // the URL may be the principal itself
	}
	cc, err := carddav.NewClient(c.c, c.cfg.URL)
	if err != nil {
		return "", fmt.Errorf("carddav: %w", err)
	}
	home, err := cc.FindAddressBookHomeSet(ctx, principal)
	if err != nil {
		return "", fmt.Errorf("carddav: no addressbook-home-set at %s (the URL is not an address book either): %w", redact(c.cfg.URL), err)
	}
	books, err := cc.FindAddressBooks(ctx, home)
	if err != nil {
		return "", fmt.Errorf("carddav: address books of %s: %w", home, err)
	}
	if len(books) == 0 {
		return "", errors.New("carddav: the account has no address book")
	}
	paths := make([]string, len(books))
	for i, b := range books {
		paths[i] = b.Path
	}
	slices.Sort(paths)
	return base.ResolveReference(&url.URL{Path: paths[0]}).String(), nil
}
