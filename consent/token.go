package consent

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
)

// Unsubscribe tokens are "v1.<payload>.<mac>": the payload is base64url of
// "<contact id>|<channel>|<purpose>" (an empty channel or purpose means all of them) and the mac
// base64url of its HMAC-SHA256 under the store's key. They do not expire: a link in an old
// message must keep working.
const tokenVersion = "v1"

// b64 decodes strictly: a token whose last character carries stray bits is another spelling of
// the same bytes, and an altered token must be refused.
var b64 = base64.RawURLEncoding.Strict()

// UnsubscribeToken returns the token of a one-click unsubscribe link for a contact on channel
// for purpose (empty: all). It checks the contact and purpose exist.
func (s *Store) UnsubscribeToken(ctx context.Context, contactID uuid.UUID, channel, purpose string) (string, error) {
	var errs db.FieldErrors
	channel, purpose = strings.ToLower(strings.TrimSpace(channel)), strings.ToLower(strings.TrimSpace(purpose))
	if channel != "" && !slices.Contains(Channels, channel) {
		errs.Add("channel", "must be one of %s", strings.Join(Channels, ", "))
	}
	if purpose != "" && !purposeName.MatchString(purpose) {
		errs.Add("purpose", "must name a purpose")
	}
	if err := errs.Err(); err != nil {
		return "", err
	}
	var exists, known bool
	err := s.db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM contacts WHERE id = $1),
		$2 = '' OR EXISTS (SELECT 1 FROM purposes WHERE name = $2)`, contactID, purpose).Scan(&exists, &known)
	if err != nil {
		return "", fmt.Errorf("consent: unsubscribe token for %s: %w", contactID, err)
	}
	if !exists {
		return "", db.NotFound("contact %s not found", contactID)
	}
	if !known {
		return "", db.Invalid("purpose", "is not a known purpose (GET /api/purposes lists them)")
	}
	payload := b64.EncodeToString([]byte(contactID.String() + "|" + channel + "|" + purpose))
	return tokenVersion + "." + payload + "." + b64.EncodeToString(s.mac(payload)), nil
}

func (s *Store) mac(payload string) []byte {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte(tokenVersion + "." + payload))
	return h.Sum(nil)
}

// errBadToken is what every forged, altered or malformed token gets: no hint which part failed.
var errBadToken = &db.Error{Kind: db.KindNotFound, Message: "the unsubscribe link is not valid"}

// parseToken checks a token's signature (in constant time) and returns what it names.
func (s *Store) parseToken(token string) (uuid.UUID, string, string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[0] != tokenVersion {
		return uuid.Nil, "", "", errBadToken
	}
	mac, err := b64.DecodeString(parts[2])
	if err != nil || !hmac.Equal(mac, s.mac(parts[1])) {
		return uuid.Nil, "", "", errBadToken
	}
	raw, err := b64.DecodeString(parts[1])
	if err != nil {
		return uuid.Nil, "", "", errBadToken
	}
	f := strings.Split(string(raw), "|")
	if len(f) != 3 {
		return uuid.Nil, "", "", errBadToken
	}
	id, err := uuid.Parse(f[0])
	if err != nil {
		return uuid.Nil, "", "", errBadToken
	}
	return id, f[1], f[2], nil
}

// Unsubscribe records the withdrawal a one-click unsubscribe token names (source
// unsubscribe_link), on the contact the token was issued for. It is idempotent: a contact that
// withdrew already gets no new event. A forged, altered or malformed token is KindNotFound and
// changes nothing.
func (s *Store) Unsubscribe(ctx context.Context, token string) ([]Event, error) {
	id, channel, purpose, err := s.parseToken(token)
	if err != nil {
		return nil, err
	}
	ctx = contact.WithActor(ctx, "unsubscribe_link")
	evs, err := s.OptOut(ctx, id, channel, purpose, SourceUnsubscribeLink)
	if db.ErrorKind(err) == db.KindInvalid {
		// The purpose was deleted since: nothing is left to withdraw from.
		return nil, nil
	}
	return evs, err
}
