package source

import (
	"encoding/json"
	"fmt"

	"github.com/contactd/contactd/internal/secret"
)

// KeyEnv is the environment variable that holds the key secrets are encrypted with (see
// package secret).
const KeyEnv = secret.KeyEnv

// Sealer encrypts and decrypts sources' secrets (package secret's AES-256-GCM). A nil *Sealer
// has no key: it refuses to seal or open anything.
type Sealer = secret.Sealer

// ErrNoKey is returned when a secret must be sealed or opened and no key is configured.
var ErrNoKey = secret.ErrNoKey

// ParseKey returns a Sealer for a base64 key of 32 bytes, nil for an empty key, and an error
// for anything else.
func ParseKey(b64 string) (*Sealer, error) { return secret.ParseKey(b64) }

// seal encrypts a source's secrets (nil for none), bound to the source's id so that a row's
// secrets cannot be moved to another source.
func seal(s *Sealer, sourceID []byte, secrets map[string]string) ([]byte, error) {
	if len(secrets) == 0 {
		return nil, nil
	}
	plain, err := json.Marshal(secrets)
	if err != nil {
		return nil, fmt.Errorf("source: seal: %w", err)
	}
	return s.Seal(sourceID, plain)
}

// open decrypts what seal gave (nil gives no secrets).
func open(s *Sealer, sourceID []byte, sealed []byte) (map[string]string, error) {
	if len(sealed) == 0 {
		return map[string]string{}, nil
	}
	plain, err := s.Open(sourceID, sealed)
	if err != nil {
		return nil, fmt.Errorf("source: open secrets: %w", err)
	}
	out := map[string]string{}
	if err := json.Unmarshal(plain, &out); err != nil {
		return nil, fmt.Errorf("source: open secrets: %w", err)
	}
	return out, nil
}
