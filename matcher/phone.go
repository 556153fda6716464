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
	region := strings.ToUpper(defaultRegion)
	if national, ok := nanpShape(raw, region); ok {
		cc := int32(1)
		return validated(&phonenumbers.PhoneNumber{CountryCode: &cc, NationalNumber: &national}, raw, region, "")
	}
	return normalizePhoneParsed(raw, region)
}

// normalizePhoneParsed is NormalizePhone through the general parser, for any input.
func normalizePhoneParsed(raw, region string) Phone {
	if len(raw) <= maxPhoneInput {
		if num, err := phonenumbers.Parse(raw, region); err == nil {
			return validated(num, raw, region, num.GetExtension())
		}
	}
	return Phone{E164: bestEffortDigits(raw, "")}
}

// validated is the normalized form of a parsed number.
func validated(num *phonenumbers.PhoneNumber, raw, region, ext string) Phone {
	// A number valid for the default region is valid (IsValidNumber would find that region or
	// an earlier one of the same country code that also takes it), and checking one region is
	// half the cost of resolving the region first.
	if phonenumbers.IsValidNumberForRegion(num, region) || phonenumbers.IsValidNumber(num) {
		return Phone{E164: phonenumbers.Format(num, phonenumbers.E164), Extension: ext, Valid: true}
	}
	return Phone{E164: bestEffortDigits(raw, ext), Extension: ext}
}

// nanpShape recognizes the commonest way a phone number is written in a CRM, a North American
// number with separators ("(415) 555-2671", "415.555.2671", "+1 415-555-2671"), and returns its
// national number without running the general parser, which spends most of its ~10 µs looking
// for extensions with regular expressions. It accepts only what the parser reads the same way:
// digits, spaces and ()-. separators, and either "+1" and ten digits (any default region) or
// ten digits with a North American default region, the first national digit 2-9. Anything else
// (letters, extension marks, other lengths, "1" without "+") takes the general parser; a test
// checks the two agree.
func nanpShape(raw, region string) (uint64, bool) {
	if len(raw) < 10 || len(raw) > 24 {
		return 0, false
	}
	plus := raw[0] == '+'
	var national uint64
	digits := 0
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c >= '0' && c <= '9':
			digits++
			if plus && digits == 1 {
				if c != '1' {
					return 0, false
				}
				continue
			}
			national = national*10 + uint64(c-'0')
			if (plus && digits == 2 || !plus && digits == 1) && c < '2' {
				return 0, false
			}
		case c == '+' && i == 0:
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return 0, false
		}
	}
	if plus {
		return national, digits == 11
	}
	return national, digits == 10 && phonenumbers.GetCountryCodeForRegion(region) == 1
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
