package tag

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/contactd/contactd/internal/db"
)

// MaxLen bounds a tag's length in characters.
const MaxLen = 100

// MaxPerRequest bounds the tags one change names.
const MaxPerRequest = 100

// Key is the case-insensitive identity of a tag name.
func Key(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// Clean trims names, drops case-insensitive repeats (the first spelling stays) and reports each
// invalid one as field[i]: empty, too long, not UTF-8 or with control characters.
func Clean(names []string, field string) ([]string, db.FieldErrors) {
	var errs db.FieldErrors
	if len(names) > MaxPerRequest {
		errs.Add(field, "must have at most %d tags", MaxPerRequest)
		return nil, errs
	}
	out := make([]string, 0, len(names))
	seen := map[string]bool{}
	for i, n := range names {
		n = strings.TrimSpace(n)
		f := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case n == "":
			errs.Add(f, "must not be empty")
		case !utf8.ValidString(n):
			errs.Add(f, "must be valid UTF-8")
		case utf8.RuneCountInString(n) > MaxLen:
			errs.Add(f, "must be at most %d characters", MaxLen)
		case strings.ContainsFunc(n, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			errs.Add(f, "must not contain control characters")
		case !seen[Key(n)]:
			seen[Key(n)] = true
			out = append(out, n)
		}
	}
	return out, errs
}

// CleanOne cleans one name given as field.
func CleanOne(name, field string) (string, error) {
	out, errs := Clean([]string{name}, field)
	if len(errs) > 0 {
		errs[0].Field = field
		return "", errs.Err()
	}
	return out[0], nil
}

// Count is a tag and how many active contacts have it.
type Count struct {
	Name  string
	Count int64
}
