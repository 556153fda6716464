package matcher

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestNormalizePhone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw, region string
		want        Phone
	}{
		{raw: "(415) 555-2671", region: "US", want: Phone{E164: "+14155552671", Valid: true}},
		{raw: "+1 415 555 2671", region: "GB", want: Phone{E164: "+14155552671", Valid: true}},
		{raw: "415.555.2671 ext. 42", region: "US", want: Phone{E164: "+14155552671", Extension: "42", Valid: true}},
		{raw: "415-555-2671 x7", region: "US", want: Phone{E164: "+14155552671", Extension: "7", Valid: true}},
		{raw: "+44 20 7946 0958", region: "US", want: Phone{E164: "+442079460958", Valid: true}},
		{raw: "020 7946 0958", region: "GB", want: Phone{E164: "+442079460958", Valid: true}},
		{raw: "030 123456", region: "de", want: Phone{E164: "+4930123456", Valid: true}},
		{raw: "555-1234", region: "US", want: Phone{E164: "5551234"}},
		{raw: "+999 123", region: "US", want: Phone{E164: "+999123"}},
		{raw: "not a phone", region: "US", want: Phone{}},
		{raw: "", region: "US", want: Phone{}},
		{raw: "   ", region: "US", want: Phone{}},
		{raw: "12", region: "US", want: Phone{E164: "12"}},
		{raw: "4155552671", region: "", want: Phone{E164: "4155552671"}},
	}
	for _, tt := range tests {
		t.Run(tt.raw+"/"+tt.region, func(t *testing.T) {
			t.Parallel()
			if got := NormalizePhone(tt.raw, tt.region); got != tt.want {
				t.Fatalf("NormalizePhone(%q, %q) = %+v; want %+v", tt.raw, tt.region, got, tt.want)
			}
		})
	}
}

func TestPhoneDigits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int
	}{
		{"", 0}, {"+1 (415) 555-2671", 11}, {"x", 0}, {"١٢٣", 0}, {"0", 1},
	}
	for _, tt := range tests {
		if got := PhoneDigits(tt.in); got != tt.want {
			t.Errorf("PhoneDigits(%q) = %d; want %d", tt.in, got, tt.want)
		}
	}
}

func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"(415) 555-2671", "+44 20 7946 0958 ext 12", "020 7946 0958", "+", "x", "++1", "1;ext=2", "tel:+1-415-555-2671"} {
		f.Add(s, "US")
		f.Add(s, "GB")
	}
	f.Fuzz(func(t *testing.T, raw, region string) {
		p := NormalizePhone(raw, region)
		if p.E164 != "" && strings.TrimLeft(p.E164, "+0123456789") != "" {
			t.Fatalf("NormalizePhone(%q, %q).E164 = %q has non-digits", raw, region, p.E164)
		}
		if p.Valid {
			again := NormalizePhone(p.E164, region)
			if again.E164 != p.E164 || !again.Valid {
				t.Fatalf("not idempotent: %q -> %+v -> %+v", raw, p, again)
			}
		}
	})
}

func BenchmarkNormalizePhone(b *testing.B) {
	for b.Loop() {
		_ = NormalizePhone("(415) 555-2671 ext. 42", "US")
	}
}

// samePhoneAsParser fails when the North American shortcut applies to raw and gives another
// answer than the general parser.
func samePhoneAsParser(t *testing.T, raw, region string) bool {
	t.Helper()
	if _, ok := nanpShape(raw, strings.ToUpper(region)); !ok {
		return false
	}
	fast, slow := NormalizePhone(raw, region), normalizePhoneParsed(strings.TrimSpace(raw), strings.ToUpper(region))
	if fast != slow {
		t.Fatalf("NormalizePhone(%q, %q) = %+v; the parser says %+v", raw, region, fast, slow)
	}
	return true
}

// TestNANPShortcutAgreesWithParser compares the shortcut with the general parser on the shapes
// it takes (real formats, random separators and digits, every North American area-code digit,
// regions in and out of the plan) and checks that it takes the common formats at all.
func TestNANPShortcutAgreesWithParser(t *testing.T) {
	t.Parallel()
	regions := []string{"US", "us", "CA", "JM", "GB", "DE", "", "ZZ", "PR"}
	formats := []string{"(%s) %s-%s", "%s-%s-%s", "%s.%s.%s", "%s %s %s", "+1 %s %s %s", "+1 (%s) %s-%s", "+1-%s-%s-%s", "+1%s%s%s", "%s%s%s", "+1.%s.%s.%s"}
	r := rand.New(rand.NewPCG(1, 2))
	taken := 0
	for i := range 60000 {
		area := fmt.Sprintf("%d%02d", r.IntN(10), r.IntN(100))
		exch := fmt.Sprintf("%03d", r.IntN(1000))
		line := fmt.Sprintf("%04d", r.IntN(10000))
		raw := fmt.Sprintf(formats[i%len(formats)], area, exch, line)
		if samePhoneAsParser(t, raw, regions[r.IntN(len(regions))]) {
			taken++
		}
		// Random strings over the shortcut's alphabet.
		b := make([]byte, 10+r.IntN(15))
		for j := range b {
			b[j] = "0123456789012345678901234567890123456789 -.()+"[r.IntN(46)]
		}
		samePhoneAsParser(t, string(b), regions[r.IntN(len(regions))])
	}
	if taken < 20000 {
		t.Fatalf("the shortcut took only %d of 60000 North American numbers", taken)
	}
	for _, raw := range []string{"(415) 555-2671", "+1 646-684-0009", "607.757.9132"} {
		if !samePhoneAsParser(t, raw, "US") {
			t.Errorf("the shortcut does not take %q", raw)
		}
	}
}

func FuzzNANPShortcut(f *testing.F) {
	for _, s := range []string{"(415) 555-2671", "+1 415 555 2671", "4155552671", "+1(415)5552671", "((415)))555--2671", "+1 015 555 2671"} {
		f.Add(s, "US")
		f.Add(s, "GB")
	}
	f.Fuzz(func(t *testing.T, raw, region string) {
		samePhoneAsParser(t, raw, region)
	})
}

func BenchmarkNormalizePhoneNANP(b *testing.B) {
	for b.Loop() {
		_ = NormalizePhone("(415) 555-2671", "US")
	}
}

func BenchmarkNormalizePhoneNANPParsed(b *testing.B) {
	for b.Loop() {
		_ = normalizePhoneParsed("(415) 555-2671", "US")
	}
}
