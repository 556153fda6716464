package secret_test

import (
	"errors"
	"testing"

	"github.com/contactd/contactd/internal/secret"
)

func TestSealOpen(t *testing.T) {
	t.Parallel()
	s, err := secret.ParseKey("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal([]byte("row-1"), []byte("whsec_abc"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Open([]byte("row-1"), sealed); err != nil || string(got) != "whsec_abc" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := s.Open([]byte("row-2"), sealed); err == nil {
		t.Fatal("a value sealed for one row opened for another")
	}
	other, _ := secret.ParseKey("ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=")
	if _, err := other.Open([]byte("row-1"), sealed); err == nil {
		t.Fatal("a value opened under another key")
	}
	var none *secret.Sealer
	if _, err := none.Seal(nil, []byte("x")); !errors.Is(err, secret.ErrNoKey) {
		t.Fatalf("nil Sealer sealed: %v", err)
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		key    string
		ok     bool
		sealer bool
	}{
		{"", true, false},
		{"not base64!", false, false},
		{"c2hvcnQ=", false, false},
		{"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", true, true},
	} {
		s, err := secret.ParseKey(tc.key)
		if (err == nil) != tc.ok || (s != nil) != tc.sealer {
			t.Errorf("ParseKey(%q) = %v, %v", tc.key, s, err)
		}
	}
}
