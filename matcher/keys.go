package matcher

import (
	"sort"
	"strconv"
	"strings"
)

// Keys returns the blocking keys of a prepared record, at most one per
// blocking rule, each prefixed with the rule's index ("0:jsmith@gmail.com").
// Two records are candidates when they share a key. Keys are plain strings
// that a database can store and index; the full scan uses the same keys.
func (m *Matcher) Keys(p *Prepared) []string {
	keys := make([]string, 0, len(m.settings.Blocking))
	var parts []string
	for r := range m.settings.Blocking {
		k, ok := m.ruleKey(r, p, parts[:0])
		if ok {
			keys = append(keys, strconv.Itoa(r)+":"+k)
		}
	}
	return keys
}

// KeysOf prepares r and returns its blocking keys.
func (m *Matcher) KeysOf(r Record) []string {
	return m.Keys(m.Prepare(r))
}

// ruleKey builds the key of blocking rule r, reusing parts as scratch.
func (m *Matcher) ruleKey(r int, p *Prepared, parts []string) (string, bool) {
	rule := &m.settings.Blocking[r]
	for k, part := range rule.Parts {
		v := &p.vals[m.ruleFields[r][k]]
		s := keyPart(part.Transform, v)
		if s == "" {
			return "", false
		}
		parts = append(parts, s)
	}
	if rule.Unordered {
		sort.Strings(parts)
	}
	if len(parts) == 1 {
		return parts[0], true
	}
	return strings.Join(parts, "|"), true
}

// keyPart reduces one value for a blocking key.
func keyPart(transform string, v *value) string {
	if v.s == "" {
		return ""
	}
	switch transform {
	case "key":
		return v.key
	case "soundex":
		return Soundex(v.key)
	case "initial":
		return v.s[:1]
	case "prefix3":
		if len(v.key) <= 3 {
			return v.key
		}
		return v.key[:3]
	case "year":
		if len(v.s) >= 4 {
			return v.s[:4]
		}
		return ""
	case "local":
		return personalLocal(v.key)
	case "domain":
		if i := strings.LastIndexByte(v.key, '@'); i >= 0 {
			return v.key[i+1:]
		}
		return ""
	}
	return v.s
}

// fnv64 is the FNV-1a hash, fixed so that scans are reproducible.
func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// keyHashes returns one hash per blocking rule (0 when the rule gives no
// key), used by the full scan instead of the strings.
func (m *Matcher) keyHashes(p *Prepared, out []uint64) {
	var parts [8]string
	for r := range m.settings.Blocking {
		k, ok := m.ruleKey(r, p, parts[:0])
		if !ok {
			out[r] = 0
			continue
		}
		h := fnv64(k)
		if h == 0 {
			h = 1
		}
		out[r] = h
	}
}
