package source

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// KeyEnv is the environment variable that holds the key secrets are encrypted with: the
// standard base64 of 32 random bytes (`openssl rand -base64 32`).
const KeyEnv = "CONTACTD_SECRET_KEY"

// Sealer encrypts and decrypts sources' secrets with AES-256-GCM. A nil *Sealer has no key:
// it refuses to seal or open anything.
type Sealer struct {
	aead cipher.AEAD
}

// ErrNoKey is returned when a secret must be sealed or opened and no key is configured.
var ErrNoKey = errors.New("source: no secret key configured (" + KeyEnv + ")")

// ParseKey returns a Sealer for a base64 key of 32 bytes, nil for an empty key, and an error
// for anything else (a start-up error: a wrong key must not be used silently).
func ParseKey(b64 string) (*Sealer, error) {
	if b64 == "" {
		return nil, nil
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("source: %s is not base64: %w", KeyEnv, err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("source: %s must be 32 bytes (base64), got %d", KeyEnv, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("source: key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("source: key: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts the secrets (nil for none): a random nonce followed by the ciphertext, bound
// to the source's id so that a row's secrets cannot be moved to another source.
func (s *Sealer) Seal(sourceID []byte, secrets map[string]string) ([]byte, error) {
	if len(secrets) == 0 {
		return nil, nil
	}
	if s == nil {
		return nil, ErrNoKey
	}
	plain, err := json.Marshal(secrets)
	if err != nil {
		return nil, fmt.Errorf("source: seal: %w", err)
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("source: seal: %w", err)
	}
	return s.aead.Seal(nonce, nonce, plain, sourceID), nil
}

// Open decrypts what Seal gave (nil gives no secrets).
func (s *Sealer) Open(sourceID []byte, sealed []byte) (map[string]string, error) {
	if len(sealed) == 0 {
		return map[string]string{}, nil
	}
	if s == nil {
		return nil, ErrNoKey
	}
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("source: open secrets: too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], sourceID)
	if err != nil {
		return nil, fmt.Errorf("source: open secrets (was %s changed?): %w", KeyEnv, err)
	}
	out := map[string]string{}
	if err := json.Unmarshal(plain, &out); err != nil {
		return nil, fmt.Errorf("source: open secrets: %w", err)
	}
	return out, nil
}
