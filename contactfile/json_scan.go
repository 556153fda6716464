package contactfile

import (
	"encoding/json"
	"strings"
)

// The scanners below walk JSON that json.Valid has accepted, so they only
// find extents and never need to report syntax errors.

// scanObject calls fn with each member's raw key (quoted) and raw value of
// the valid JSON object b.
func scanObject(b string, fn func(key, val string)) {
	i := skipSpace(b, 1)
	for i < len(b) && b[i] == '"' {
		kEnd := skipString(b, i)
		key := b[i:kEnd]
		i = skipSpace(b, kEnd) + 1 // ':'
		i = skipSpace(b, i)
		vEnd := skipValue(b, i)
		fn(key, b[i:vEnd])
		i = skipSpace(b, vEnd)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
}

// scanArray calls fn with each element of the valid JSON array b.
func scanArray(b string, fn func(val string)) {
	i := skipSpace(b, 1)
	for i < len(b) && b[i] != ']' {
		end := skipValue(b, i)
		fn(b[i:end])
		i = skipSpace(b, end)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
}

func skipSpace(b string, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i].
func skipString(b string, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b string, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = skipString(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	}
	j := i
	for j < len(b) && strings.IndexByte(",}] \t\r\n", b[j]) < 0 {
		j++
	}
	return j
}

// unquote returns the text of a raw JSON string, without allocating when it
// has no escapes.
func unquote(raw string) string {
	inner := raw[1 : len(raw)-1]
	if strings.IndexByte(inner, '\\') < 0 {
		return inner
	}
	var s string
	json.Unmarshal([]byte(raw), &s)
	return s
}
