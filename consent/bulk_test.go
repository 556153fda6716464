package consent_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// TestBulkReachabilityAnswersAsOneByOne asks for more contacts than one part of a split takes
// (unknown, repeated, archived, merged and merged-into contacts among them, a chain of merges,
// with and without events and preferences, with consent states kept and not known) and checks
// every answer is the one the contact gets asked alone, and the one the fold of all its records
// gives.
func TestBulkReachabilityAnswersAsOneByOne(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec(t, `INSERT INTO contacts (id, first_name, email, email_normalized, phone, phone_e164, phone_valid, status, preferences)
		SELECT gen_random_uuid(), 'c' || g, CASE WHEN g % 11 <> 0 THEN 'c' || g || '@example.com' END,
			CASE WHEN g % 13 <> 0 AND g % 11 <> 0 THEN 'c' || g || '@example.com' END, '+14155550100', '+14155550100', g % 7 <> 0,
			CASE WHEN g % 19 = 0 THEN 'archived' ELSE 'active' END,
			CASE WHEN g % 17 = 0 THEN '{"frequency": "never"}'::jsonb WHEN g % 29 = 0 THEN '{"communicationMethods": ["sms"]}'::jsonb
			     ELSE '{}'::jsonb END
		FROM generate_series(1, 2100) g`)
	b.exec(t, `INSERT INTO consent_events (id, contact_id, channel, purpose, status, lawful_basis, source, captured_at, actor)
		SELECT gen_random_uuid(), c.id, 'email', 'marketing', CASE WHEN n % 5 = 0 THEN 'withdrawn' ELSE 'granted' END,
			CASE WHEN n % 4 = 0 THEN 'contract' ELSE 'consent' END, 'form', now() - n * interval '1 minute', 'test'
		FROM (SELECT id, row_number() OVER (ORDER BY id) n FROM contacts) c WHERE n % 3 <> 0`)
	// The events went in behind the store's back: their contacts' consent state is not known
	// until RefreshStates computes it.
	b.exec(t, `UPDATE contacts SET consent_state = NULL`)
	if n, err := b.cs.RefreshStates(b.ctx); err != nil || n != 2100 {
		t.Fatalf("refreshed %d states of 2100: %v", n, err)
	}
	rows, err := b.pool.Query(b.ctx, `SELECT id FROM contacts WHERE status = 'active' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		t.Fatal(err)
	}
	// A withdrawal merged into a granted survivor, and a grant merged into a contact without one.
	for i := 0; i < 40; i += 2 {
		b.merge(t, ids[i], ids[i+1])
	}
	// A chain: 41 merged into 40, then 40 into 42.
	b.merge(t, ids[40], ids[41])
	b.merge(t, ids[42], ids[40])
	// Some states not known (as after the migration that added them), a survivor's among them:
	// those contacts are answered from their events.
	b.exec(t, `UPDATE contacts SET consent_state = NULL WHERE id = $1 OR id IN (SELECT id FROM contacts WHERE merged_into IS NULL ORDER BY id DESC LIMIT 50)`, ids[0])
	rows, err = b.pool.Query(b.ctx, `SELECT id FROM contacts ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	ask, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		t.Fatal(err)
	}
	ask = append(ask, uuid.New(), ask[0], ask[1], ask[len(ask)/2], uuid.New())
	for _, q := range []struct{ channel, purpose string }{{"email", "marketing"}, {"sms", "service"}} {
		channel := q.channel
		got, err := b.cs.ReachableMany(b.ctx, ask, channel, q.purpose)
		if err != nil {
			t.Fatal(err)
		}
		// Every answer is the one the fold of every merged record gives (reachSQL, which
		// ReachableMany only uses for contacts asked by a merged id).
		folded, err := b.cs.ReachableByFold(b.ctx, ask, channel, q.purpose)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for i, id := range ask {
			a := got[i]
			seen[a.Reason]++
			if a.ContactID != id {
				t.Fatalf("answer %d is for %s, asked %s", i, a.ContactID, id)
			}
			if f := folded[i]; f.Allowed != a.Allowed || f.Reason != a.Reason {
				t.Fatalf("%s on %s: in bulk %+v, through the fold %+v", id, channel, a, f)
			}
			if i%5 != 0 && i < len(ask)-5 {
				continue // a fifth of them alone, and the unknown and repeated ones
			}
			one, err := b.cs.ReachableMany(b.ctx, []uuid.UUID{id}, channel, q.purpose)
			if err != nil {
				t.Fatal(err)
			}
			if one[0].Allowed != a.Allowed || one[0].Reason != a.Reason {
				t.Fatalf("%s on %s: in bulk %+v, alone %+v", id, channel, a, one[0])
			}
		}
		if len(seen) < 4 {
			t.Fatalf("the fixture exercises too few rules on %s: %v", channel, seen)
		}
	}
}
