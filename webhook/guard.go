package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"syscall"
)

// Guard refuses webhook URLs whose host is, or resolves to, an address inside: loopback,
// private (RFC 1918, RFC 4193), link-local, shared (RFC 6598), unspecified or multicast. It
// checks at creation and again at every connection, so a name that later resolves inside is
// refused too.
type Guard struct {
	// AllowPrivate lets URLs reach such addresses (CONTACTD_WEBHOOK_ALLOW_PRIVATE; tests).
	AllowPrivate bool
}

var sharedRange = netip.MustParsePrefix("100.64.0.0/10")

// allowed reports whether an address may be delivered to.
func (g Guard) allowed(ip netip.Addr) bool {
	if g.AllowPrivate {
		return true
	}
	ip = ip.Unmap()
	return !(ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || sharedRange.Contains(ip))
}

// checkURL says what is wrong with a webhook URL, or returns nil: it must be an absolute http
// or https URL whose host resolves only to allowed addresses.
func (g Guard) checkURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return errors.New("must be an absolute http or https URL")
	}
	if u.User != nil {
		return errors.New("must not carry credentials")
	}
	if len(raw) > 2048 {
		return errors.New("must be at most 2048 characters")
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", u.Hostname())
	if err != nil || len(addrs) == 0 {
		return fmt.Errorf("host %q does not resolve", u.Hostname())
	}
	for _, a := range addrs {
		if !g.allowed(a) {
			return fmt.Errorf("resolves to %s, a loopback, private or link-local address", a.Unmap())
		}
	}
	return nil
}

// control refuses a connection to an address the guard does not allow; it runs after name
// resolution, on the address actually dialled.
func (g Guard) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook: dial %s: %w", address, err)
	}
	if !g.allowed(ap.Addr()) {
		return fmt.Errorf("webhook: refused to connect to %s, a loopback, private or link-local address", ap.Addr())
	}
	return nil
}
