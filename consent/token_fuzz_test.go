package consent

import (
	"testing"

	"github.com/google/uuid"
)

// FuzzParseToken: no input makes the token parser panic, and a valid token with any one byte
// changed is refused (a token's text is its identity: no other spelling of it is accepted).
func FuzzParseToken(f *testing.F) {
	s := &Store{key: []byte("0123456789abcdef0123456789abcdef")}
	id := uuid.MustParse("01a22601-23a4-7a1c-b547-ac11f0405638")
	payload := b64.EncodeToString([]byte(id.String() + "|email|marketing"))
	valid := tokenVersion + "." + payload + "." + b64.EncodeToString(s.mac(payload))
	if got, ch, p, err := s.parseToken(valid); err != nil || got != id || ch != "email" || p != "marketing" {
		f.Fatalf("the valid token: %v %q %q %v", got, ch, p, err)
	}
	f.Add(valid, 0, byte('x'))
	f.Add(valid, len(valid)-1, byte('B'))
	f.Add(valid, len(tokenVersion)+1+len(payload)-1, byte('Q'))
	f.Add("v1..", 0, byte('.'))
	f.Add("v1.YQ.YQ", 3, byte('Z'))
	f.Fuzz(func(t *testing.T, token string, at int, b byte) {
		_, _, _, _ = s.parseToken(token) // must not panic
		if len(valid) == 0 {
			return
		}
		at = ((at % len(valid)) + len(valid)) % len(valid)
		altered := []byte(valid)
		altered[at] = b
		if string(altered) == valid {
			return
		}
		if _, _, _, err := s.parseToken(string(altered)); err == nil {
			t.Errorf("the valid token with byte %d changed to %q was accepted: %s", at, b, altered)
		}
	})
}
