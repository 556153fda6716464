package matcher

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Phone is a normalized phone number.
type Phone struct {
	// E164 is the number in E.164 form (+15551234567) when Valid; otherwise
	// a best-effort string of digits, prefixed with + when the input had
	// one, or "" when nothing usable was found.
	E164 string
	// Extension is the extension, kept apart so that it never affects
	// matching.
	Extension string
	// Valid reports whether the number is a valid number for its region.
	Valid bool
}

// maxPhoneInput bounds the input handed to the phone parser; longer inputs
// are not phone numbers.
const maxPhoneInput = 250

// NormalizePhone parses raw with defaultRegion (an ISO 3166 code such as
// "US") used when raw has no country code. The extension is returned apart.
// Unparseable or invalid numbers are flagged with Valid=false and a
// best-effort E164 (see Phone); NormalizePhone never fails or panics.
func NormalizePhone(raw, defaultRegion string) Phone {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return Phone{}
	}
	if len(raw) <= maxPhoneInput {
		region := strings.ToUpper(defaultRegion)
		if num, err := phonenumbers.Parse(raw, region); err == nil {
			ext := num.GetExtension()
			// A number valid for the default region is valid (IsValidNumber would find that
			// region or an earlier one of the same country code that also takes it), and
			// checking one region is half the cost of resolving the region first.
			if phonenumbers.IsValidNumberForRegion(num, region) || phonenumbers.IsValidNumber(num) {
				return Phone{E164: phonenumbers.Format(num, phonenumbers.E164), Extension: ext, Valid: true}
			}
			return Phone{E164: bestEffortDigits(raw, ext), Extension: ext}
		}
	}
	return Phone{E164: bestEffortDigits(raw, "")}
}

// bestEffortDigits keeps the ASCII digits of raw that precede the
// extension, with a leading + when raw started with one.
func bestEffortDigits(raw, ext string) string {
	body := raw
	if ext != "" {
		if i := strings.LastIndex(body, ext); i > 0 {
			body = body[:i]
		}
	}
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		if c := body[i]; c >= '0' && c <= '9' {
			b.WriteByte(c)
		}
	}
	if b.Len() == 0 {
		return ""
	}
	if strings.HasPrefix(raw, "+") {
		return "+" + b.String()
	}
	return b.String()
}

// PhoneDigits counts the ASCII digits in s.
func PhoneDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			n++
		}
	}
	return n
}
