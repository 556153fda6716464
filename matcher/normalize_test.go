package matcher

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestFold(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"O'Brien", "obrien"},
		{"Müller", "muller"},
		{"  Zoë   Ferrari ", "zoe ferrari"},
		{"Jean-Luc", "jean luc"},
		{"J.", "j"},
		{"STRAßE", "strasse"},
		{"Łukasz Øster", "lukasz oster"},
		{"", ""},
		{"...", ""},
		{"van der Berg", "van der berg"},
	}
	for _, tt := range tests {
		if got := Fold(tt.in); got != tt.want {
			t.Errorf("Fold(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestPersonNameKey(t *testing.T) {
	t.Parallel()
	if a, b := personNameKey(Fold("Müller")), personNameKey(Fold("Mueller")); a != b {
		t.Errorf("Müller and Mueller keys differ: %q %q", a, b)
	}
	if a, b := personNameKey(Fold("Van der Berg")), personNameKey(Fold("Vanderberg")); a != b {
		t.Errorf("Van der Berg and Vanderberg keys differ: %q %q", a, b)
	}
}

func TestEmailKey(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"John.Smith+news@Gmail.com", "johnsmith@gmail.com"},
		{"j.o.h.n.smith@googlemail.com", "johnsmith@gmail.com"},
		{"John.Smith@outlook.com", "john.smith@outlook.com"},
		{"Christopher.shah+news@outlook.com", "christopher.shah@outlook.com"},
		{"not an address", ""},
		{"+tag@example.com", "+tag@example.com"},
	}
	for _, tt := range tests {
		if got := EmailKey(tt.in); got != tt.want {
			t.Errorf("EmailKey(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestPhoneKey(t *testing.T) {
	t.Parallel()
	same := [][]string{
		{"+44 20 7946 0958", "020 7946 0958", "0044 20 7946 0958", "(020) 7946-0958 ext. 12"},
		{"+1 925-958-6257", "925.958.6257", "1-925-958-6257 x395", "(925) 958-6257;ext=117"},
	}
	for _, group := range same {
		want := PhoneKey(group[0])
		if want == "" {
			t.Fatalf("PhoneKey(%q) is empty", group[0])
		}
		for _, s := range group[1:] {
			if got := PhoneKey(s); got != want {
				t.Errorf("PhoneKey(%q) = %q; want %q (as %q)", s, got, want, group[0])
			}
		}
	}
	for _, s := range []string{"", "12345", "n/a", "x"} {
		if got := PhoneKey(s); got != "" {
			t.Errorf("PhoneKey(%q) = %q; want empty", s, got)
		}
	}
}

func TestNormalizeCompany(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"Acme, Inc.", "acme"},
		{"ACME", "acme"},
		{"The Acme Company", "acme"},
		{"Gekko & Co Corporation", "gekko"},
		{"Stark Industries S.A.", "stark industries"},
		{"Munson's Pickles Ltd.", "munsons pickles"},
		{"Company", "company"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := NormalizeCompany(tt.in); got != tt.want {
			t.Errorf("NormalizeCompany(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestNormalizeDate(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"1971-06-24", "19710624"},
		{"19710624", "19710624"},
		{"24/06/1971", "19710624"},
		{"1971/06/24", "19710624"},
		{"June 1971", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := NormalizeDate(tt.in); got != tt.want {
			t.Errorf("NormalizeDate(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestIsNickname(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want bool
	}{
		{"Bob", "Robert", true},
		{"robert", "BOBBY", true},
		{"Bob", "Rob", true},
		{"Liz", "Elizabeth", true},
		{"Bob", "Alice", false},
		{"", "", false},
		{"Zoë", "zoe", true},
	}
	for _, tt := range tests {
		if got := IsNickname(tt.a, tt.b); got != tt.want {
			t.Errorf("IsNickname(%q, %q) = %v; want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestSimilarities(t *testing.T) {
	t.Parallel()
	jw := []struct {
		a, b string
		want float64
	}{
		{"martha", "marhta", 0.961},
		{"dwayne", "duane", 0.84},
		{"dixon", "dicksonx", 0.813},
		{"same", "same", 1},
		{"", "x", 0},
		{"abc", "xyz", 0},
	}
	for _, tt := range jw {
		if got := JaroWinkler(tt.a, tt.b); got < tt.want-0.001 || got > tt.want+0.001 {
			t.Errorf("JaroWinkler(%q, %q) = %.4f; want %.3f", tt.a, tt.b, got, tt.want)
		}
	}
	if d := Levenshtein("kitten", "sitting"); d != 3 {
		t.Errorf("Levenshtein = %d; want 3", d)
	}
	sx := map[string]string{"robert": "R163", "rupert": "R163", "ashcraft": "A261", "tymczak": "T522", "pfister": "P236", "": ""}
	for in, want := range sx {
		if got := Soundex(in); got != want {
			t.Errorf("Soundex(%q) = %q; want %q", in, got, want)
		}
	}
}

func FuzzFold(f *testing.F) {
	for _, s := range []string{"O'Brien", "Müller", "STRAßE", " a  b ", "ǅ", "\u0301x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Fold(s)
		if !utf8.ValidString(got) || strings.Contains(got, "  ") || strings.HasPrefix(got, " ") || strings.HasSuffix(got, " ") {
			t.Fatalf("Fold(%q) = %q is not folded", s, got)
		}
		if again := Fold(got); again != got {
			t.Fatalf("Fold not idempotent: %q -> %q -> %q", s, got, again)
		}
	})
}

func FuzzEmailKey(f *testing.F) {
	for _, s := range []string{"a.b+c@googlemail.com", "x@y", "+@gmail.com", ".@gmail.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k := EmailKey(s)
		if k == "" {
			return
		}
		if again := EmailKey(k); again != k {
			t.Fatalf("EmailKey not idempotent: %q -> %q -> %q", s, k, again)
		}
	})
}

func FuzzPhoneKey(f *testing.F) {
	for _, s := range []string{"+44 20 7946 0958", "(0)20 x1", "1234567", "++--"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k := PhoneKey(s)
		if k != "" && (len(k) < 7 || len(k) > phoneKeyDigits || strings.Trim(k, "0123456789") != "") {
			t.Fatalf("PhoneKey(%q) = %q", s, k)
		}
		if again := PhoneKey(k); again != k {
			t.Fatalf("PhoneKey not idempotent: %q -> %q -> %q", s, k, again)
		}
	})
}

func FuzzNormalizeCompany(f *testing.F) {
	for _, s := range []string{"Acme, Inc.", "S.A.", "& co", "The The"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := NormalizeCompany(s)
		if Fold(got) != got {
			t.Fatalf("NormalizeCompany(%q) = %q is not folded", s, got)
		}
	})
}

func FuzzNormalizeDate(f *testing.F) {
	for _, s := range []string{"1971-06-24", "24/06/1971", "19710624", "1/1/1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := NormalizeDate(s)
		if got != "" && (len(got) != 8 || NormalizeDate(got) != got) {
			t.Fatalf("NormalizeDate(%q) = %q", s, got)
		}
	})
}

func BenchmarkFold(b *testing.B) {
	for b.Loop() {
		_ = Fold("Zoë O'Brien-Müller")
	}
}

func BenchmarkJaroWinkler(b *testing.B) {
	for b.Loop() {
		_ = JaroWinkler("catherine", "kathryn")
	}
}
