package contactfile

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"
)

// parseVCardProp splits "group.NAME;PARAM=a,b;BARE:value". The name is
// upper-cased and loses its group. It reports false for a line without a
// colon outside quotes.
func parseVCardProp(l []byte) (vcardProp, bool) {
	colon, semi, inQuotes := -1, -1, false
	for i, c := range l {
		if c == '"' {
			inQuotes = !inQuotes
		} else if !inQuotes && c == ';' && semi < 0 {
			semi = i
		} else if !inQuotes && c == ':' {
			colon = i
			break
		}
	}
	if colon < 0 {
		return vcardProp{}, false
	}
	nameEnd := colon
	if semi >= 0 {
		nameEnd = semi
	}
	name := l[:nameEnd]
	if dot := bytes.LastIndexByte(name, '.'); dot >= 0 {
		name = name[dot+1:]
	}
	p := vcardProp{name: upperASCII(name), value: l[colon+1:], pref: noPref}
	if semi >= 0 {
		p.parseParams(l[semi+1 : colon])
	}
	return p, true
}

// upperASCII returns b upper-cased, without allocating for the common
// property names.
func upperASCII(b []byte) string {
	for _, name := range commonPropNames {
		if len(b) == len(name) && strings.EqualFold(string(b), name) {
			return name
		}
	}
	return strings.ToUpper(string(b))
}

var commonPropNames = [...]string{
	"BEGIN", "END", "VERSION", "N", "FN", "EMAIL", "TEL", "ORG", "TITLE", "UID",
	"NOTE", "ADR", "URL", "BDAY", "REV", "PHOTO", "PRODID", "CATEGORIES", "NICKNAME",
	"X-CONTACTD-STATUS", "X-CONTACTD-EXTERNAL-ID",
}

// lowerNames holds the lower-case forms of commonPropNames.
var lowerNames = func() map[string]string {
	m := make(map[string]string, len(commonPropNames))
	for _, n := range commonPropNames {
		m[n] = strings.ToLower(n)
	}
	return m
}()

// lowerName returns a property name in lower case, as Extra and row errors
// name it.
func lowerName(name string) string {
	if l, ok := lowerNames[name]; ok {
		return l
	}
	return strings.ToLower(name)
}

// parseParams reads the parameters the decoder uses: PREF, TYPE=pref,
// ENCODING and CHARSET. vCard 2.1's bare parameters (";PREF;WORK") count as
// TYPE values.
func (p *vcardProp) parseParams(s []byte) {
	for len(s) > 0 {
		var param []byte
		param, s = cutUnquoted(s, ';')
		key, val, hasVal := bytes.Cut(param, []byte("="))
		if !hasVal {
			key, val = []byte("TYPE"), param
		}
		val = bytes.Trim(val, `"`)
		key = bytes.TrimSpace(key)
		switch {
		case equalFold(key, "PREF"):
			if n, err := strconv.Atoi(string(val)); err == nil && n > 0 && n < p.pref {
				p.pref = n
			}
		case equalFold(key, "TYPE"):
			for len(val) > 0 {
				var t []byte
				t, val, _ = bytes.Cut(val, []byte(","))
				t = bytes.TrimSpace(t)
				switch {
				case equalFold(t, "PREF"):
					p.pref = min(p.pref, 1)
				case equalFold(t, "QUOTED-PRINTABLE"):
					p.qp = true
				}
			}
		case equalFold(key, "ENCODING"):
			p.qp = p.qp || equalFold(val, "QUOTED-PRINTABLE")
		case equalFold(key, "CHARSET"):
			if cs := strings.ToUpper(string(val)); cs != "UTF-8" && cs != "UTF8" {
				p.charset = cs
			}
		}
	}
}

// equalFold reports whether b is s, ignoring ASCII case, without
// allocating.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// cutUnquoted splits s at the first sep outside double quotes.
func cutUnquoted(s []byte, sep byte) (before, after []byte) {
	inQuotes := false
	for i, c := range s {
		if c == '"' {
			inQuotes = !inQuotes
		} else if c == sep && !inQuotes {
			return s[:i], s[i+1:]
		}
	}
	return s, nil
}

// decodeVCardValue undoes quoted-printable and converts a Latin-1 family
// charset to UTF-8. It reports false when the result is not UTF-8.
func decodeVCardValue(p *vcardProp) (string, bool) {
	v := p.value
	if p.qp {
		v = decodeQuotedPrintable(v)
	}
	switch p.charset {
	case "ISO-8859-1", "ISO-8859-15", "LATIN1", "WINDOWS-1252", "CP1252", "US-ASCII":
		if !utf8.Valid(v) {
			return latin1ToUTF8(v), true
		}
	}
	if !utf8.Valid(v) {
		return "", false
	}
	return string(v), true
}

// decodeQuotedPrintable decodes "=XX" escapes, keeping malformed ones as
// they are.
func decodeQuotedPrintable(v []byte) []byte {
	if bytes.IndexByte(v, '=') < 0 {
		return v
	}
	out := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if v[i] == '=' && i+2 < len(v) {
			hi, ok1 := unhex(v[i+1])
			lo, ok2 := unhex(v[i+2])
			if ok1 && ok2 {
				out = append(out, hi<<4|lo)
				i += 2
				continue
			}
		}
		out = append(out, v[i])
	}
	return out
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func latin1ToUTF8(v []byte) string {
	var sb strings.Builder
	sb.Grow(len(v) + len(v)/4)
	for _, c := range v {
		sb.WriteRune(rune(c))
	}
	return sb.String()
}

// firstComponents returns the first two components of a structured value
// (N, ORG), split at semicolons that are not escaped.
func firstComponents(v string) (first, second string) {
	start, n := 0, 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case ';':
			if n == 0 {
				first, start, n = v[:i], i+1, 1
				continue
			}
			return first, v[start:i]
		}
	}
	if n == 0 {
		return v, ""
	}
	return first, v[start:]
}

// unescapeText undoes vCard text escaping: \n, \N, \, \; \: and \\.
func unescapeText(v string) string {
	if strings.IndexByte(v, '\\') < 0 {
		return v
	}
	var sb strings.Builder
	sb.Grow(len(v))
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\\' && i+1 < len(v) {
			i++
			switch v[i] {
			case 'n', 'N':
				sb.WriteByte('\n')
			case ',', ';', ':', '\\':
				sb.WriteByte(v[i])
			default:
				sb.WriteByte('\\')
				sb.WriteByte(v[i])
			}
			continue
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

// trimScheme removes a URI scheme prefix such as "mailto:", in any case.
func trimScheme(v, scheme string) string {
	if len(v) >= len(scheme) && strings.EqualFold(v[:len(scheme)], scheme) {
		return v[len(scheme):]
	}
	return v
}

// telValue turns a TEL value, text or a tel: URI, into a phone number as a
// person would write it: "tel:+1-555-0100;ext=12" → "+1-555-0100 ext. 12".
func telValue(v string) string {
	v = strings.TrimSpace(v)
	if len(v) < 4 || !strings.EqualFold(v[:4], "tel:") {
		return v
	}
	v = v[4:]
	num, params, _ := strings.Cut(v, ";")
	for p := range strings.SplitSeq(params, ";") {
		if ext, ok := strings.CutPrefix(strings.ToLower(p), "ext="); ok && ext != "" {
			return num + " ext. " + ext
		}
	}
	return num
}
