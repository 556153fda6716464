package matcher

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    string
		wantErr error
	}{
		{in: "  John.Doe@Example.COM ", want: "John.Doe@example.com"},
		{in: "a@b.c", want: "a@b.c"},
		{in: "user+tag@gmail.com", want: "user+tag@gmail.com"},
		{in: "o'brien@example.ie", want: "o'brien@example.ie"},
		{in: "jörg@Bücher.DE", want: "jörg@xn--bcher-kva.de"},
		{in: "x@xn--bcher-kva.de", want: "x@xn--bcher-kva.de"},
		{in: "", wantErr: ErrEmailSyntax},
		{in: "   ", wantErr: ErrEmailSyntax},
		{in: "no-at-sign", wantErr: ErrEmailSyntax},
		{in: "two@@example.com", wantErr: ErrEmailSyntax},
		{in: "a@b@c.com", wantErr: ErrEmailSyntax},
		{in: "@example.com", wantErr: ErrEmailSyntax},
		{in: "local@", wantErr: ErrEmailSyntax},
		{in: "has space@example.com", wantErr: ErrEmailSyntax},
		{in: "tab\t@example.com", wantErr: ErrEmailSyntax},
		{in: "ctl\x01@example.com", wantErr: ErrEmailSyntax},
		{in: "a@.example.com", wantErr: ErrEmailSyntax},
		{in: "a@example..com", wantErr: ErrEmailSyntax},
		{in: "a@example.com.", wantErr: ErrEmailSyntax},
		{in: "bad\xffutf8@example.com", wantErr: ErrEmailSyntax},
		{in: strings.Repeat("a", 64) + "@example.com", want: strings.Repeat("a", 64) + "@example.com"},
		{in: strings.Repeat("a", 65) + "@example.com", wantErr: ErrEmailLength},
		{in: "a@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 63) + "." + strings.Repeat("e", 61), wantErr: ErrEmailLength},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := NormalizeEmail(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("NormalizeEmail(%q) = %q, %v; want error %v", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("NormalizeEmail(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"John.Doe@Example.COM", "jörg@Bücher.DE", "a@b", "@", "a@@b", " x@y.z ", "a@xn--", "a@-b-.c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizeEmail(s)
		if err != nil {
			return
		}
		if len(got) > 254 || strings.Count(got, "@") != 1 {
			t.Fatalf("NormalizeEmail(%q) = %q breaks its promises", s, got)
		}
		again, err := NormalizeEmail(got)
		if err != nil || again != got {
			t.Fatalf("not idempotent: NormalizeEmail(%q) = %q, then %q, %v", s, got, again, err)
		}
	})
}

func BenchmarkNormalizeEmail(b *testing.B) {
	for b.Loop() {
		_, _ = NormalizeEmail("  John.Doe+news@Example.COM ")
	}
}
