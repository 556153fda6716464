package matcher

import (
	"strings"
)

// EmailKey returns the provider-aware match key of an e-mail address: the
// address lower-cased, without a +tag, and for Gmail without dots in the
// local part and with googlemail.com read as gmail.com. Other providers keep
// their dots. It returns "" for an invalid address. The key is for matching
// only: the address used for sending is never rewritten.
func EmailKey(s string) string {
	n, err := NormalizeEmail(s)
	if err != nil {
		return ""
	}
	n = strings.ToLower(n)
	at := strings.LastIndexByte(n, '@')
	local, domain := n[:at], n[at+1:]
	if i := strings.IndexByte(local, '+'); i > 0 {
		local = local[:i]
	}
	if domain == "googlemail.com" {
		domain = "gmail.com"
	}
	if domain == "gmail.com" {
		local = strings.ReplaceAll(local, ".", "")
	}
	if local == "" {
		return ""
	}
	return local + "@" + domain
}

// phoneKeyDigits is how many trailing digits of the national significant
// number identify a phone for matching.
const phoneKeyDigits = 9

// PhoneKey returns the match key of a phone number: the last nine digits
// of its number before any extension, so that +44 20 7946 0958,
// 0044 20 7946 0958 and 020 7946 0958 share a key whatever region they
// were entered in. It returns "" when fewer than seven digits remain.
func PhoneKey(raw string) string {
	var buf [32]byte
	n := 0
	seenDigit := false
scan:
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case '0' <= c && c <= '9':
			seenDigit = true
			if n == len(buf) {
				copy(buf[:], buf[1:])
				n--
			}
			buf[n] = c
			n++
			continue
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '+' || c == '/':
			continue
		}
		if seenDigit {
			break scan // the extension or trailing text starts here
		}
	}
	if n < 7 {
		return ""
	}
	if n > phoneKeyDigits {
		return string(buf[n-phoneKeyDigits : n])
	}
	return string(buf[:n])
}

// legalSuffixes are company-name tokens that carry no identity.
var legalSuffixes = map[string]bool{
	"inc": true, "incorporated": true, "llc": true, "llp": true, "lp": true, "ltd": true,
	"limited": true, "gmbh": true, "ag": true, "sa": true, "sas": true, "sarl": true,
	"plc": true, "corp": true, "corporation": true, "co": true, "company": true,
	"bv": true, "nv": true, "srl": true, "spa": true, "pty": true, "kg": true, "oy": true,
	"ab": true, "as": true, "aps": true, "se": true, "kk": true, "pvt": true, "the": true,
	"and": true, "group": true, "holding": true, "holdings": true, "intl": true,
}

// NormalizeCompany folds a company name and removes its legal form and
// noise words, so that "Acme, Inc.", "ACME" and "The Acme Company" compare
// equal; "&" reads as "and". When every token is a legal suffix the folded
// name is kept.
func NormalizeCompany(s string) string {
	f := Fold(strings.ReplaceAll(s, "&", " and "))
	if f == "" {
		return ""
	}
	toks := strings.Fields(f)
	// Join single letters written with dots: "s a" → "sa".
	joined := toks[:0:0]
	for i := 0; i < len(toks); i++ {
		if len(toks[i]) == 1 && i+1 < len(toks) && len(toks[i+1]) == 1 {
			j := i
			var b strings.Builder
			for j < len(toks) && len(toks[j]) == 1 {
				b.WriteString(toks[j])
				j++
			}
			joined = append(joined, b.String())
			i = j - 1
			continue
		}
		joined = append(joined, toks[i])
	}
	out := joined[:0:0]
	for _, t := range joined {
		if !legalSuffixes[t] {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return f
	}
	return strings.Join(out, " ")
}

// NormalizeDate reads a date written YYYY-MM-DD, YYYYMMDD, YYYY/MM/DD or
// DD/MM/YYYY and returns it as YYYYMMDD, or "" when it is not a date.
func NormalizeDate(s string) string {
	s = strings.TrimSpace(s)
	var d []byte
	for i := 0; i < len(s); i++ {
		if '0' <= s[i] && s[i] <= '9' {
			d = append(d, s[i])
		}
	}
	if len(d) != 8 {
		return ""
	}
	if len(s) >= 10 && (s[2] == '/' || s[2] == '.' || s[2] == '-') {
		// DD/MM/YYYY
		d = append(append(d[4:8:8], d[2:4]...), d[0:2]...)
	}
	return string(d)
}

// dateParts splits a YYYYMMDD string into numbers.
func dateParts(s string) (y, m, d int, ok bool) {
	if len(s) != 8 {
		return 0, 0, 0, false
	}
	n := 0
	for i := 0; i < 8; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, 0, 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n / 10000, n / 100 % 100, n % 100, true
}

// dayNumber approximates the days since year 0 for tolerance checks.
func dayNumber(y, m, d int) int {
	return y*365 + y/4 + (m-1)*31 + d
}

// personNameKey is the comparison key of a folded person name: no spaces,
// and the German transliterations ae, oe, ue read as a, o, u (Mueller and
// Müller share a key).
func personNameKey(f string) string {
	k := squash(f)
	if strings.Contains(k, "ae") || strings.Contains(k, "oe") || strings.Contains(k, "ue") {
		k = strings.NewReplacer("ae", "a", "oe", "o", "ue", "u").Replace(k)
	}
	return k
}

// titleKey abbreviates a folded job title of several words to its
// initials (chief financial officer → cfo) and keeps one word as it is.
func titleKey(f string) string {
	toks := strings.Fields(f)
	if len(toks) < 2 {
		return f
	}
	var b strings.Builder
	for _, t := range toks {
		if t == "of" || t == "and" || t == "the" {
			continue
		}
		b.WriteByte(t[0])
	}
	return b.String()
}
