package matcher

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// specialFolds maps letters that Unicode decomposition does not reduce to
// ASCII onto their usual transliteration.
var specialFolds = map[rune]string{
	'ß': "ss", 'ẞ': "ss", 'æ': "ae", 'Æ': "ae", 'œ': "oe", 'Œ': "oe",
	'ø': "o", 'Ø': "o", 'ł': "l", 'Ł': "l", 'đ': "d", 'Đ': "d",
	'ð': "d", 'Ð': "d", 'þ': "th", 'Þ': "th", 'ı': "i",
}

// Fold lower-cases s, removes accents (Müller → muller, Zoë → zoe), turns
// punctuation other than apostrophes into spaces, drops apostrophes
// (O'Brien → obrien) and collapses whitespace. The result contains only
// lower-case letters, digits and single spaces. Fold is idempotent.
func Fold(s string) string {
	if isFoldedASCII(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := true // suppress leading spaces
	emit := func(r rune) {
		switch {
		case r == '\'' || r == '’' || r == '`' || r == '´':
			return
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if r < utf8.RuneSelf {
				if 'A' <= r && r <= 'Z' {
					r += 'a' - 'A'
				}
				b.WriteByte(byte(r))
			} else if f, ok := specialFolds[r]; ok {
				b.WriteString(f)
			} else {
				b.WriteRune(unicode.ToLower(r))
			}
			space = false
		case unicode.Is(unicode.Mn, r):
			return
		default:
			if !space {
				b.WriteByte(' ')
				space = true
			}
		}
	}
	if isASCII(s) {
		for i := 0; i < len(s); i++ {
			emit(rune(s[i]))
		}
	} else {
		for _, r := range norm.NFD.String(s) {
			emit(r)
		}
	}
	out := b.String()
	out = strings.TrimSuffix(out, " ")
	if !isASCII(out) {
		// Some letters decompose only after lower-casing; fold again.
		if again := norm.NFD.String(out); again != out {
			return Fold(again)
		}
	}
	return out
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// isFoldedASCII reports whether s is already in Fold's output form.
func isFoldedASCII(s string) bool {
	prevSpace := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			prevSpace = false
		case c == ' ':
			if prevSpace {
				return false
			}
			prevSpace = true
		default:
			return false
		}
	}
	return !prevSpace || s == ""
}

// squash removes the spaces of a folded string.
func squash(s string) string {
	if strings.IndexByte(s, ' ') < 0 {
		return s
	}
	return strings.ReplaceAll(s, " ", "")
}
