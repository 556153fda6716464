package matcher

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Errors returned by NormalizeEmail. They are wrapped with the offending
// detail; test them with errors.Is.
var (
	ErrEmailSyntax = errors.New("invalid e-mail address")
	ErrEmailLength = errors.New("e-mail address too long")
)

var idnaProfile = idna.New(
	idna.MapForLookup(),
	idna.Transitional(false),
	idna.BidiRule(),
	idna.ValidateLabels(true),
	idna.StrictDomainName(false),
	idna.VerifyDNSLength(true),
)

// NormalizeEmail trims s, checks its syntax (exactly one @, non-empty local
// part and domain, no spaces or control characters, RFC 5321 lengths: local
// part at most 64 octets, domain at most 255, whole address at most 254),
// lower-cases the domain and encodes it in IDNA ASCII form. The local part
// keeps its case because it is significant to the receiving server; use
// EmailKey for a match key. It returns an error wrapping ErrEmailSyntax or
// ErrEmailLength for an invalid address. NormalizeEmail is idempotent.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrEmailSyntax)
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: not UTF-8", ErrEmailSyntax)
	}
	at := strings.IndexByte(s, '@')
	if at < 0 || strings.IndexByte(s[at+1:], '@') >= 0 {
		return "", fmt.Errorf("%w: want exactly one @", ErrEmailSyntax)
	}
	local, domain := s[:at], s[at+1:]
	if local == "" || domain == "" {
		return "", fmt.Errorf("%w: empty local part or domain", ErrEmailSyntax)
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError {
			return "", fmt.Errorf("%w: contains space or control character", ErrEmailSyntax)
		}
	}
	if len(local) > 64 {
		return "", fmt.Errorf("%w: local part longer than 64 octets", ErrEmailLength)
	}
	if len(domain) > 255 {
		return "", fmt.Errorf("%w: domain longer than 255 octets", ErrEmailLength)
	}
	if strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "", fmt.Errorf("%w: malformed domain %q", ErrEmailSyntax, domain)
	}
	ascii, err := idnaProfile.ToASCII(strings.ToLower(domain))
	if err != nil {
		return "", fmt.Errorf("%w: domain %q: %v", ErrEmailSyntax, domain, err)
	}
	ascii = strings.ToLower(ascii)
	if ascii == "" || strings.HasPrefix(ascii, ".") || strings.HasSuffix(ascii, ".") || strings.Contains(ascii, "..") {
		return "", fmt.Errorf("%w: malformed domain %q", ErrEmailSyntax, domain)
	}
	if len(ascii) > 255 {
		return "", fmt.Errorf("%w: domain longer than 255 octets", ErrEmailLength)
	}
	out := local + "@" + ascii
	if len(out) > 254 {
		return "", fmt.Errorf("%w: address longer than 254 octets", ErrEmailLength)
	}
	return out, nil
}
