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
		switch strings.ToUpper(string(bytes.TrimSpace(key))) {
		case "PREF":
			if n, err := strconv.Atoi(string(val)); err == nil && n > 0 && n < p.pref {
				p.pref = n
			}
		case "TYPE":
			for _, t := range bytes.Split(val, []byte(",")) {
				switch strings.ToUpper(string(bytes.TrimSpace(t))) {
				case "PREF":
					p.pref = min(p.pref, 1)
				case "QUOTED-PRINTABLE":
					p.qp = true
				}
			}
		case "ENCODING":
			p.qp = p.qp || strings.EqualFold(string(val), "QUOTED-PRINTABLE")
		case "CHARSET":
			if cs := strings.ToUpper(string(val)); cs != "UTF-8" && cs != "UTF8" {
				p.charset = cs
			}
		}
	}
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

// splitComponents splits a structured value (N, ORG) at semicolons that are
// not escaped. It always returns at least one component.
func splitComponents(v string) []string {
	var out []string
	start := 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case ';':
			out = append(out, v[start:i])
			start = i + 1
		}
	}
	return append(out, v[start:])
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
