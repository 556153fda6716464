package matcher

import (
	"fmt"
	"strings"
)

// Record is one raw input record: column name → value. Columns that the
// settings do not name are ignored; absent and empty columns are missing.
type Record map[string]string

// Prepared is a record normalized for comparison by one Matcher. It is
// immutable and safe to share between goroutines.
type Prepared struct {
	vals []value
}

// value is one normalized field.
type value struct {
	s   string // normalized value, "" when missing
	key string // the type's match key
	aux int32  // nickname id for given names; 1 for a name-derived e-mail local part, else 0; -1 otherwise
}

// Matcher compiles Settings: it prepares records, computes their blocking
// keys and compares pairs into levels. It is safe for concurrent use. A
// Matcher is untrained; Train returns a Model that scores.
type Matcher struct {
	settings Settings
	fields   []compiledField
	swapA    int // field indexes of SwapNames, -1 when unused
	swapB    int
	// ruleFields holds the field index of each part of each blocking rule.
	ruleFields [][]int
	nick       *nicknameTable
	// nameFields are the givenName and name fields, emailFields the
	// e-mail fields whose local parts may be derived from them.
	nameFields, emailFields []int
}

type compiledField struct {
	Field
	typ    string
	levels []Level
}

// New compiles validated settings.
func New(s *Settings) (*Matcher, error) {
	if s == nil {
		s = DefaultSettings()
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	ws := s.withDefaults()
	m := &Matcher{settings: ws, swapA: -1, swapB: -1, nick: loadNicknames()}
	for _, f := range ws.Fields {
		m.fields = append(m.fields, compiledField{Field: f, typ: f.Type, levels: f.Levels})
	}
	for _, r := range ws.Blocking {
		idx := make([]int, len(r.Parts))
		for k, p := range r.Parts {
			idx[k] = m.fieldIndex(p.Field)
		}
		m.ruleFields = append(m.ruleFields, idx)
	}
	if len(ws.SwapNames) == 2 {
		m.swapA, m.swapB = m.fieldIndex(ws.SwapNames[0]), m.fieldIndex(ws.SwapNames[1])
	}
	for i, f := range m.fields {
		switch f.typ {
		case "givenName", "name":
			m.nameFields = append(m.nameFields, i)
		case "email":
			m.emailFields = append(m.emailFields, i)
		}
	}
	return m, nil
}

// Settings returns a copy of the matcher's settings with defaults applied.
func (m *Matcher) Settings() Settings {
	return m.settings
}

func (m *Matcher) fieldIndex(name string) int {
	for i, f := range m.fields {
		if f.Name == name {
			return i
		}
	}
	return -1
}

// Prepare normalizes a record for comparison.
func (m *Matcher) Prepare(r Record) *Prepared {
	p := &Prepared{vals: make([]value, len(m.fields))}
	for i, f := range m.fields {
		p.vals[i] = m.normalize(f.typ, r[f.Column])
	}
	m.markNameDerived(p)
	return p
}

// Value returns the normalized value of field name in p, or "" when the
// field is missing or unknown.
func (m *Matcher) Value(p *Prepared, name string) string {
	if i := m.fieldIndex(name); i >= 0 {
		return p.vals[i].s
	}
	return ""
}

func (m *Matcher) normalize(typ, raw string) value {
	v := value{aux: -1}
	if strings.TrimSpace(raw) == "" {
		return v
	}
	switch typ {
	case "givenName":
		v.s = Fold(raw)
		v.key = personNameKey(v.s)
		v.aux = m.nick.nicknameID(v.s)
		if v.aux < 0 {
			if i := strings.IndexByte(v.s, ' '); i > 0 {
				v.aux = m.nick.nicknameID(v.s[:i])
			}
		}
	case "name":
		v.s = Fold(raw)
		v.key = personNameKey(v.s)
	case "email":
		if n, err := NormalizeEmail(raw); err == nil {
			v.s = strings.ToLower(n)
			v.key = EmailKey(n)
		} else {
			v.s = strings.ToLower(strings.TrimSpace(raw))
			v.key = v.s
		}
	case "phone":
		v.s = PhoneKey(raw)
		v.key = v.s
	case "company":
		v.s = NormalizeCompany(raw)
		v.key = squash(v.s)
	case "title":
		v.s = Fold(raw)
		v.key = titleKey(v.s)
	case "date":
		v.s = NormalizeDate(raw)
		v.key = v.s
	case "text":
		v.s = Fold(raw)
		v.key = squash(v.s)
	default: // exact
		v.s = strings.TrimSpace(raw)
		v.key = v.s
	}
	if v.s == "" {
		v.key = ""
	}
	return v
}

// gammaMissing and the level numbering: gamma 0 is missing, 1..len(levels)
// are the configured levels in order, len(levels)+1 is "else".
const gammaMissing = 0

// comparison is the agreement vector of a pair, one gamma per field.
type comparison [maxFields]uint8

// compare computes the agreement vector of a and b.
func (m *Matcher) compare(a, b *Prepared) comparison {
	var c comparison
	for i := range m.fields {
		c[i] = m.level(i, &a.vals[i], &b.vals[i])
	}
	if m.swapA >= 0 {
		ia, ib := m.swapA, m.swapB
		elseA, elseB := uint8(len(m.fields[ia].levels)+1), uint8(len(m.fields[ib].levels)+1)
		weak := func(g, els uint8) bool { return g == gammaMissing || g >= els-1 }
		if weak(c[ia], elseA) || weak(c[ib], elseB) {
			ga := m.levelCross(ia, &a.vals[ia], &b.vals[ib])
			gb := m.levelCross(ib, &a.vals[ib], &b.vals[ia])
			if ga != gammaMissing && gb != gammaMissing && ga < elseA && gb < elseB &&
				int(ga)+int(gb) < int(c[ia])+int(c[ib]) {
				c[ia], c[ib] = ga, gb
			}
		}
	}
	return c
}

// levelCross compares values of two different name fields using field i's
// levels; nickname ids are only known for given names, so the nickname
// level cannot hold across fields.
func (m *Matcher) levelCross(i int, a, b *value) uint8 {
	if a.s == "" || b.s == "" {
		return gammaMissing
	}
	return m.level(i, a, b)
}

// level returns the gamma of one field.
func (m *Matcher) level(i int, a, b *value) uint8 {
	if a.s == "" || b.s == "" {
		return gammaMissing
	}
	f := &m.fields[i]
	for k := range f.levels {
		if m.holds(&f.levels[k], a, b) {
			return uint8(k + 1)
		}
	}
	return uint8(len(f.levels) + 1)
}

// holds reports whether a level holds for two non-missing values.
func (m *Matcher) holds(l *Level, a, b *value) bool {
	switch l.Kind {
	case "exact":
		return a.s == b.s
	case "key":
		return a.key == b.key
	case "nickname":
		return m.nick.related(a.aux, b.aux)
	case "initial":
		return isInitialOf(a.s, b.s) || isInitialOf(b.s, a.s)
	case "jaroWinkler":
		return JaroWinkler(a.key, b.key) >= l.Threshold
	case "levenshtein":
		return withinLevenshtein(a.key, b.key, l.Max)
	case "tokens":
		return tokenOverlap(a.s, b.s) >= l.Threshold
	case "prefix":
		return len(a.key) >= l.Max && len(b.key) >= l.Max && a.key[:l.Max] == b.key[:l.Max]
	case "emailLocal":
		la, lb := personalLocal(a.key), personalLocal(b.key)
		return la != "" && la == lb
	case "emailNameLocal":
		la, lb := personalLocal(a.key), personalLocal(b.key)
		return la != "" && la == lb && (a.aux == 1 || b.aux == 1)
	case "emailNameVariant":
		la, lb := emailLocal(a.key), emailLocal(b.key)
		return (a.aux == 1 || b.aux == 1) && emailDomain(a.key) == emailDomain(b.key) && la != lb && withinLevenshtein(la, lb, maxNameVariantEdits)
	case "emailChannel":
		return isPersonalDomain(emailDomain(a.key)) != isPersonalDomain(emailDomain(b.key))
	case "otherWorkDomain":
		da, db := emailDomain(a.key), emailDomain(b.key)
		return da != db && !isPersonalDomain(da) && !isPersonalDomain(db)
	case "dateSwap":
		ya, ma, da, ok1 := dateParts(a.s)
		yb, mb, db, ok2 := dateParts(b.s)
		return ok1 && ok2 && ya == yb && ma == db && da == mb
	case "dateDays":
		ya, ma, da, ok1 := dateParts(a.s)
		yb, mb, db, ok2 := dateParts(b.s)
		if !ok1 || !ok2 {
			return false
		}
		d := dayNumber(ya, ma, da) - dayNumber(yb, mb, db)
		return d <= l.Max && -d <= l.Max
	}
	panic(fmt.Sprintf("matcher: unknown level kind %q", l.Kind))
}

// isInitialOf reports whether a is an initial (one letter, possibly
// followed by other tokens) of b's first letter, while b is longer.
func isInitialOf(a, b string) bool {
	if len(a) == 0 || len(b) < 2 || a[0] != b[0] {
		return false
	}
	return len(a) == 1 || a[1] == ' '
}

// emailLocal returns the local part of an e-mail key.
func emailLocal(k string) string {
	if i := strings.LastIndexByte(k, '@'); i > 0 {
		return k[:i]
	}
	return ""
}

// personalLocal returns the local part of an e-mail key when it looks
// specific to one person (at least six characters with a separator or a
// digit, like john.smith or jsmith84), without dots so that it compares
// with Gmail keys, and "" for generic ones such as karen@ or info@ that
// many people share across domains.
func personalLocal(k string) string {
	l := emailLocal(k)
	if len(l) < 6 {
		return ""
	}
	specific := strings.HasSuffix(k, "@gmail.com") // dots already removed
	for i := 0; i < len(l) && !specific; i++ {
		c := l[i]
		specific = c == '.' || c == '_' || c == '-' || ('0' <= c && c <= '9')
	}
	if !specific {
		return ""
	}
	if strings.IndexByte(l, '.') >= 0 {
		l = strings.ReplaceAll(l, ".", "")
	}
	return l
}

// tokenOverlap is the share of the shorter value's tokens found in the
// other value. Values are folded: tokens are separated by single spaces.
func tokenOverlap(a, b string) float64 {
	na, nb := strings.Count(a, " ")+1, strings.Count(b, " ")+1
	if a == "" || b == "" {
		return 0
	}
	if na > nb {
		a, b, na = b, a, nb
	}
	found := 0
	for rest := a; rest != ""; {
		tok := rest
		if i := strings.IndexByte(rest, ' '); i >= 0 {
			tok, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		if hasToken(b, tok) {
			found++
		}
	}
	return float64(found) / float64(na)
}

// hasToken reports whether the space-separated s contains token tok.
func hasToken(s, tok string) bool {
	for {
		i := strings.Index(s, tok)
		if i < 0 {
			return false
		}
		end := i + len(tok)
		if (i == 0 || s[i-1] == ' ') && (end == len(s) || s[end] == ' ') {
			return true
		}
		s = s[i+1:]
	}
}

// tfValue is the value whose frequency adjusts field i's first level: the
// match key when that level compares keys, the normalized value otherwise.
func (m *Matcher) tfValue(i int, v *value) string {
	if m.fields[i].levels[0].Kind == "key" {
		return v.key
	}
	return v.s
}

// personalDomains are free-mail providers: an address there is a person's
// private channel, not their work one.
var personalDomains = map[string]bool{
	"gmail.com": true, "yahoo.com": true, "yahoo.co.uk": true, "hotmail.com": true, "hotmail.co.uk": true,
	"outlook.com": true, "live.com": true, "msn.com": true, "icloud.com": true, "me.com": true, "mac.com": true,
	"aol.com": true, "gmx.de": true, "gmx.net": true, "gmx.com": true, "web.de": true, "proton.me": true,
	"protonmail.com": true, "mail.com": true, "yandex.ru": true, "zoho.com": true, "fastmail.com": true,
	"t-online.de": true, "orange.fr": true, "free.fr": true, "libero.it": true, "qq.com": true, "163.com": true,
}

func isPersonalDomain(d string) bool { return personalDomains[d] }

// emailDomain returns the domain of an e-mail key.
func emailDomain(k string) string {
	if i := strings.LastIndexByte(k, '@'); i >= 0 {
		return k[i+1:]
	}
	return ""
}
