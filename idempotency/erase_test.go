package idempotency_test

import (
	"context"
	"testing"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/idempotency"
	"github.com/contactd/contactd/internal/dbtest"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// TestScrubFindsNonASCIINames: a stored response that quotes a person only by a name with
// non-ASCII letters (no contact id, no email) is found through the trigram index and replaced;
// another person's response stays. The index read the body byte-escaped, so "Müller" was never
// found.
func TestScrubFindsNonASCIINames(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.DB(t)
	s := idempotency.NewStore(d)
	apiKey := uuid.New()
	for key, body := range map[string]string{
		"about-him":   `{"detail":"Jürgen Müller is already a contact"}`,
		"about-other": `{"detail":"Grace Hopper is already a contact"}`,
		"not-utf8":    "\xff\xfe binary",
	} {
		if _, err := d.Pool.Exec(ctx, `INSERT INTO idempotency_keys (api_key_id, key, request_hash, locked_until, expires_at,
				status, headers, body) VALUES ($1, $2, 'h', now(), now() + interval '1 day', 409, '{}', $3)`,
			apiKey, key, []byte(body)); err != nil {
			t.Fatalf("store %s: %v", key, err)
		}
	}
	p := &contact.Personal{Words: []string{"jürgen", "müller", "jürgen müller"}}
	if err := d.InTx(ctx, func(tx pgx.Tx) error { return s.ScrubTx(ctx, tx, p) }); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]int{"about-him": 410, "about-other": 409, "not-utf8": 409} {
		var status int
		if err := d.Pool.QueryRow(ctx, `SELECT status FROM idempotency_keys WHERE key = $1`, key).Scan(&status); err != nil || status != want {
			t.Errorf("%s: status %d (%v), want %d", key, status, err, want)
		}
	}
}
