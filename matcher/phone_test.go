package matcher

import (
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
