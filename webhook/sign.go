package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// secretPrefix starts every secret, as the Standard Webhooks scheme writes them.
const secretPrefix = "whsec_"

// newSecret returns a fresh random secret: "whsec_" and 32 random bytes in base64.
func newSecret() string {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read never fails
	return secretPrefix + base64.StdEncoding.EncodeToString(key)
}

// secretKey returns the HMAC key of a secret, or an error saying what is wrong with it.
func secretKey(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, secretPrefix))
	if err != nil || !strings.HasPrefix(secret, secretPrefix) {
		return nil, errors.New(`must be "whsec_" followed by base64`)
	}
	if len(key) < 24 || len(key) > 64 {
		return nil, errors.New("must hold 24 to 64 bytes")
	}
	return key, nil
}

// Sign returns the Webhook-Signature header value of a message: "v1," and the base64
// HMAC-SHA256, keyed by the secret, of "id.timestamp.body".
func Sign(secret, id string, timestamp time.Time, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", fmt.Errorf("webhook: secret %w", err)
	}
	return "v1," + signature(key, id, timestamp.Unix(), body), nil
}

func signature(key []byte, id string, unix int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + strconv.FormatInt(unix, 10) + "."))
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Tolerance is how far a message's timestamp may be from the receiver's clock for Verify.
const Tolerance = 5 * time.Minute

// Verify checks a received message as a receiver should: one of the signatures in the
// Webhook-Signature header is the message's, and its Webhook-Timestamp is within Tolerance of
// now. It is what a Go receiver of contactd's webhooks needs.
func Verify(secret string, header http.Header, body []byte, now time.Time) error {
	key, err := secretKey(secret)
	if err != nil {
		return fmt.Errorf("webhook: secret %w", err)
	}
	id, ts := header.Get("Webhook-Id"), header.Get("Webhook-Timestamp")
	unix, err := strconv.ParseInt(ts, 10, 64)
	if id == "" || err != nil {
		return errors.New("webhook: no Webhook-Id or no valid Webhook-Timestamp")
	}
	if d := now.Sub(time.Unix(unix, 0)); d > Tolerance || d < -Tolerance {
		return errors.New("webhook: the timestamp is too far from now")
	}
	want := signature(key, id, unix, body)
	for _, sig := range strings.Fields(header.Get("Webhook-Signature")) {
		if v, s, ok := strings.Cut(sig, ","); ok && v == "v1" && hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return errors.New("webhook: no valid signature")
}
