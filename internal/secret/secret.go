// Package secret seals what contactd must store but never show (sync sources' credentials,
// webhooks' signing secrets) with AES-256-GCM under one key, CONTACTD_SECRET_KEY. It holds no
// state but the key and does no I/O; callers choose what to bind a sealed value to (a row's
// id), so that it cannot be moved to another row.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// KeyEnv is the environment variable that holds the key: the standard base64 of 32 random bytes
// (`openssl rand -base64 32`).
const KeyEnv = "CONTACTD_SECRET_KEY"

// Sealer encrypts and decrypts with AES-256-GCM. A nil *Sealer has no key: it refuses to seal
// or open anything.
type Sealer struct {
	aead cipher.AEAD
}

// ErrNoKey is returned when a value must be sealed or opened and no key is configured.
var ErrNoKey = errors.New("secret: no secret key configured (" + KeyEnv + ")")

// ParseKey returns a Sealer for a base64 key of 32 bytes, nil for an empty key, and an error
// for anything else (a start-up error: a wrong key must not be used silently).
func ParseKey(b64 string) (*Sealer, error) {
	if b64 == "" {
		return nil, nil
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("secret: %s is not base64: %w", KeyEnv, err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("secret: %s must be 32 bytes (base64), got %d", KeyEnv, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret: key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret: key: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plain: a random nonce followed by the ciphertext, bound to boundTo (a row's id)
// so that it opens only with the same boundTo.
func (s *Sealer) Seal(boundTo, plain []byte) ([]byte, error) {
	if s == nil {
		return nil, ErrNoKey
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("secret: seal: %w", err)
	}
	return s.aead.Seal(nonce, nonce, plain, boundTo), nil
}

// Open decrypts what Seal gave for the same boundTo.
func (s *Sealer) Open(boundTo, sealed []byte) ([]byte, error) {
	if s == nil {
		return nil, ErrNoKey
	}
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("secret: open: too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], boundTo)
	if err != nil {
		return nil, fmt.Errorf("secret: open (was %s changed?): %w", KeyEnv, err)
	}
	return plain, nil
}
