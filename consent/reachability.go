package consent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// MaxReachabilityIDs bounds the contacts of one ReachableMany call.
const MaxReachabilityIDs = 10000

// Why a contact may or may not be reached. An Answer has exactly one, the first rule that
// decided it, in this order.
const (
	ReasonNotFound       = "not_found"       // no such contact
	ReasonArchived       = "archived"        // the contact (or its survivor) is archived
	ReasonErased         = "erased"          // the person was erased (a tombstone)
	ReasonWithdrawn      = "withdrawn"       // consent withdrawn on a record of the contact
	ReasonNoConsent      = "no_consent"      // an opt-in purpose and no grant on record
	ReasonNoLawfulBasis  = "no_lawful_basis" // grants, but none on a basis the purpose accepts
	ReasonNoAddress      = "no_address"      // no email or phone for the channel
	ReasonInvalidAddress = "invalid_address" // the email or phone is invalid
	// ReasonNoPostalAddress: mail needs a postal address (a street, and a city or a postal
	// code), and the contact has none.
	ReasonNoPostalAddress = "no_postal_address"
	ReasonPreferences     = "preferences"   // the contact's preferences exclude the channel
	ReasonFrequency       = "frequency"     // the contact wants no non-service messages
	ReasonQuietHours      = "quiet_hours"   // now is in the contact's quiet hours
	ReasonConsent         = "consent"       // allowed: a grant on an accepted basis
	ReasonNotWithdrawn    = "not_withdrawn" // allowed: an opt-out purpose, not withdrawn
)

// Answer says whether a contact may be reached on a channel for a purpose now.
type Answer struct {
	// ContactID is the contact asked about; a merged contact is answered for its survivor.
	ContactID uuid.UUID
	Allowed   bool
	Reason    string
	// NextAllowedAt is when the contact may be reached, when only quiet hours stop it now.
	NextAllowedAt *time.Time
}

// Reachable answers whether a contact may be reached on channel for purpose. An unknown contact
// is KindNotFound; an unknown channel or purpose names the field.
func (s *Store) Reachable(ctx context.Context, contactID uuid.UUID, channel, purpose string) (*Answer, error) {
	as, err := s.ReachableMany(ctx, []uuid.UUID{contactID}, channel, purpose)
	if err != nil {
		return nil, err
	}
	switch as[0].Reason {
	case ReasonNotFound:
		return nil, db.NotFound("contact %s not found", contactID)
	case ReasonErased:
		return nil, db.Gone("contact %s was erased", contactID)
	}
	return &as[0], nil
}

// ReachableMany answers Reachable for up to MaxReachabilityIDs contacts with one query, in the
// order of ids (an unknown contact is answered not_found).
func (s *Store) ReachableMany(ctx context.Context, ids []uuid.UUID, channel, purpose string) ([]Answer, error) {
	var errs db.FieldErrors
	channel, purpose = strings.ToLower(strings.TrimSpace(channel)), strings.ToLower(strings.TrimSpace(purpose))
	if !slices.Contains(Channels, channel) {
		errs.Add("channel", "must be one of %s", strings.Join(Channels, ", "))
	}
	if !purposeName.MatchString(purpose) {
		errs.Add("purpose", "must name a purpose")
	}
	if len(ids) == 0 {
		errs.Add("contactIds", "must name at least one contact")
	} else if len(ids) > MaxReachabilityIDs {
		errs.Add("contactIds", "must name at most %d contacts (got %d)", MaxReachabilityIDs, len(ids))
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	p, err := s.cachedPurpose(ctx, purpose)
	if db.ErrorKind(err) == db.KindNotFound {
		return nil, db.Invalid("purpose", "is not a known purpose (GET /api/purposes lists them)")
	}
	if err != nil {
		return nil, err
	}
	out := make([]Answer, len(ids))
	now := s.now()
	// One statement (manySQL) answers the contacts asked, in the order asked, from one row each:
	// the contact's flags, preferences and consent state (see state.go). Only contacts asked by
	// an id that was merged away, or whose state is not known, take the fold of their events
	// (reachSQL) in a second statement. Rows are scanned into fixed fields: no per-contact
	// allocation but the preferences of contacts that have some. Large asks are split in two
	// parts answered at once on their own connections: the probes are CPU-bound, and a part per
	// core halves the time.
	parts := 1
	if len(ids) >= 2*minPart {
		parts = 2
	}
	folds := make([]map[uuid.UUID][]int, parts)
	failed := make([]error, parts)
	var wg sync.WaitGroup
	for k := range parts {
		lo, hi := k*len(ids)/parts, (k+1)*len(ids)/parts
		wg.Add(1)
		go func() {
			defer wg.Done()
			folds[k], failed[k] = s.answerMany(ctx, ids[lo:hi], lo, out[lo:hi], channel, purpose, p, now)
		}()
	}
	wg.Wait()
	if err := errors.Join(failed...); err != nil {
		return nil, err
	}
	folded := folds[0]
	for _, f := range folds[1:] {
		for id, is := range f {
			if folded == nil {
				folded = map[uuid.UUID][]int{}
			}
			folded[id] = append(folded[id], is...)
		}
	}
	if len(folded) > 0 {
		asked := make([]uuid.UUID, 0, len(folded))
		for id := range folded {
			asked = append(asked, id)
		}
		err = pgx.BeginTxFunc(ctx, s.db.Pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
			// JIT compilation would cost more than the fold's index probes.
			if _, err := tx.Exec(ctx, `SET LOCAL jit = off`); err != nil {
				return fmt.Errorf("consent: reachability: %w", err)
			}
			return scanFolded(ctx, tx, asked, channel, purpose, func(r *reachRow, own []ownEvent) {
				a := s.answer(r, decide(own, p.LawfulBases), channel, p, now)
				for _, i := range folded[r.input] {
					out[i] = a
				}
			})
		})
		if err != nil {
			return nil, err
		}
	}
	for i, id := range ids {
		if out[i].Reason == "" {
			out[i] = Answer{ContactID: id, Reason: ReasonNotFound}
		}
	}
	return out, nil
}

// cachedPurpose returns the named purpose, read once per process: purposes are never changed
// once created, and an unknown one is asked again.
func (s *Store) cachedPurpose(ctx context.Context, name string) (*Purpose, error) {
	if p, ok := s.purposes.Load(name); ok {
		return p.(*Purpose), nil
	}
	p, err := s.Purpose(ctx, name)
	if err != nil {
		return nil, err
	}
	s.purposes.Store(name, p)
	return p, nil
}

// minPart is the fewest contacts a part of a split ReachableMany answers.
const minPart = 1000

// answerMany answers, into out (out[i] for ids[i]), the contacts of ids in one statement
// (manySQL); it returns the positions (offset by offset) of those that need the fold (asked by
// an id merged into another contact, or with a consent state not known), by id.
func (s *Store) answerMany(ctx context.Context, ids []uuid.UUID, offset int, out []Answer, channel, purpose string,
	p *Purpose, now time.Time) (map[uuid.UUID][]int, error) {
	return scanMany(ctx, s.db.Pool, ids, offset, out, channel, purpose, func(row *reachRow, v verdict) Answer {
		return s.answer(row, v, channel, p, now)
	})
}

// scanMany runs manySQL for ids and answers (with answer) each contact that does not need the
// fold into out; it returns the positions of the others, as answerMany does. The statement runs
// with its generic plan from the first execution on a connection (a custom plan would look at
// thousands of ids to plan the same loop of probes, for milliseconds each time) and with JIT
// compilation off (compiling costs more than the probes), set in the same round trip.
func scanMany(ctx context.Context, q batcher, ids []uuid.UUID, offset int, out []Answer, channel, purpose string,
	answer func(*reachRow, verdict) Answer) (map[uuid.UUID][]int, error) {
	var batch pgx.Batch
	batch.Queue(`SELECT set_config('plan_cache_mode', 'force_generic_plan', true), set_config('jit', 'off', true)`)
	batch.Queue(manySQL, ids, stateKey(channel, purpose))
	br := q.SendBatch(ctx, &batch)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return nil, fmt.Errorf("consent: reachability: %w", err)
	}
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("consent: reachability: %w", err)
	}
	defer rows.Close()
	var folded map[uuid.UUID][]int
	decoded := map[string]contact.Preferences{}
	var r manyRow
	dest := []any{&r.n, &r.flags, &r.prefs}
	for rows.Next() {
		r.prefs = r.prefs[:0]
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("consent: reachability: %w", err)
		}
		i := int(r.n) - 1
		if r.flags&rowFold != 0 {
			if folded == nil {
				folded = map[uuid.UUID][]int{}
			}
			folded[ids[i]] = append(folded[ids[i]], offset+i)
			continue
		}
		var row reachRow
		if err := r.contact(&row, ids[i], decoded); err != nil {
			return nil, err
		}
		out[i] = answer(&row, verdictOf(int(r.flags>>rowStateShift)&7))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("consent: reachability: %w", err)
	}
	return folded, nil
}

// batcher sends batches of statements: a pool or a transaction.
type batcher interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// The bits of manySQL's flags.
const (
	// rowFold: the contact is merged into another, or its consent state is not known: reachSQL
	// answers it.
	rowFold       = 1 << 0
	rowActive     = 1 << 2
	rowErased     = 1 << 3
	rowHasEmail   = 1 << 4
	rowEmailValid = 1 << 5
	rowHasPhone   = 1 << 6
	rowPhoneValid = 1 << 7
	rowHasPostal  = 1 << 8
	// rowStateShift: 3 bits, the contact's consent state on the channel and purpose asked (the
	// state* bits; 0: no events).
	rowStateShift = 10
)

// manyRow is one row of manySQL, scanned into fixed fields.
type manyRow struct {
	n, flags int64
	prefs    []byte
}

// contact fills row with the contact's flags and preferences. Preferences are decoded once per
// distinct document (decoded keeps them by their JSON): many contacts share the same few, and
// the rules only read them.
func (r *manyRow) contact(row *reachRow, id uuid.UUID, decoded map[string]contact.Preferences) error {
	f := r.flags
	*row = reachRow{input: id, active: f&rowActive != 0, erased: f&rowErased != 0, hasEmail: f&rowHasEmail != 0,
		emailValid: f&rowEmailValid != 0, hasPhone: f&rowHasPhone != 0, phoneValid: f&rowPhoneValid != 0, hasPostal: f&rowHasPostal != 0}
	if len(r.prefs) == 0 {
		return nil
	}
	if p, ok := decoded[string(r.prefs)]; ok {
		row.prefs = p
		return nil
	}
	if err := json.Unmarshal(r.prefs, &row.prefs); err != nil {
		return fmt.Errorf("consent: reachability: preferences of %s: %w", id, err)
	}
	decoded[string(r.prefs)] = row.prefs
	return nil
}

// scanFolded runs reachSQL for the contacts ids and hands each row to fn with the latest event
// of each record folded into the contact's root.
func scanFolded(ctx context.Context, q db.Querier, ids []uuid.UUID, channel, purpose string, fn func(r *reachRow, own []ownEvent)) error {
	rows, err := q.Query(ctx, reachSQL, ids, channel, purpose)
	if err != nil {
		return fmt.Errorf("consent: reachability: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r reachRow
		var prefs []byte
		var isRoot []bool
		var joined, captured, recorded []time.Time
		var evIDs []uuid.UUID
		var statuses, bases []string
		if err := rows.Scan(&r.input, &r.active, &r.erased, &r.hasEmail, &r.emailValid, &r.hasPhone, &r.phoneValid, &r.hasPostal, &prefs,
			&isRoot, &joined, &evIDs, &statuses, &bases, &captured, &recorded); err != nil {
			return fmt.Errorf("consent: reachability: %w", err)
		}
		if err := json.Unmarshal(prefs, &r.prefs); err != nil {
			return fmt.Errorf("consent: reachability: preferences of %s: %w", r.input, err)
		}
		own := make([]ownEvent, len(evIDs))
		for i := range evIDs {
			own[i] = ownEvent{ID: evIDs[i], Root: isRoot[i], Joined: joined[i], Status: statuses[i], Basis: bases[i],
				Captured: captured[i], Recorded: recorded[i]}
		}
		fn(&r, own)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("consent: reachability: %w", err)
	}
	return nil
}

// manySQL answers the contacts of $1 (uuid[]) that exist, by position asked (n, from 1), with
// one row each: its flags (the row* bits: status, addresses, and its consent state under the key
// $2, "channel/purpose") and its preferences when it has some. One probe per contact, by its
// primary key, however many are asked: the lateral keeps the plan a loop over the ids, and
// unnest does not let planning look at the 10,000 ids as = ANY would. (PostgreSQL gives | and <<
// the same precedence, left to right: hence the parentheses.)
const manySQL = `
	SELECT i.n, c.flags, c.prefs
	FROM unnest($1::uuid[]) WITH ORDINALITY AS i (id, n)
	CROSS JOIN LATERAL (
		SELECT NULLIF(c.preferences, '{}'::jsonb) AS prefs,
			(c.merged_into IS NOT NULL OR c.consent_state IS NULL)::int | ((c.status = 'active')::int << 2) | ((c.status = 'erased')::int << 3)
			| ((c.email IS NOT NULL)::int << 4) | ((c.email_normalized IS NOT NULL)::int << 5) | ((c.phone IS NOT NULL)::int << 6)
			| (coalesce(c.phone_valid, true)::int << 7) | (` + postalSQL + `::int << 8)
			| (coalesce((c.consent_state ->> $2)::int, 0) << 10) AS flags
		FROM contacts c WHERE c.id = i.id OFFSET 0) c`

// reachSQL answers, for each contact of $1 that exists, its root's status, address flags and
// preferences, and the latest event on channel $2 for purpose $3 of each record folded into the
// root.
const reachSQL = foldSQL + `,
		cur AS (
			SELECT f.root, f.id = f.root AS is_root, f.joined, e.id, e.status, e.lawful_basis, e.captured_at, e.recorded_at
			FROM fold f CROSS JOIN LATERAL (
				SELECT e.id, e.status, e.lawful_basis, e.captured_at, e.recorded_at FROM consent_events e
				WHERE e.contact_id = f.id AND e.channel = $2 AND e.purpose = $3
				ORDER BY e.captured_at DESC, e.id DESC LIMIT 1) e),
		agg AS (
			SELECT root, array_agg(is_root) AS is_root, array_agg(joined) AS joined, array_agg(id) AS ids,
				array_agg(status) AS status, array_agg(lawful_basis) AS basis, array_agg(captured_at) AS captured,
				array_agg(recorded_at) AS recorded
			FROM cur GROUP BY root)
		SELECT r.input, c.status = 'active', c.status = 'erased', c.email IS NOT NULL, c.email_normalized IS NOT NULL, c.phone IS NOT NULL,
			coalesce(c.phone_valid, true), ` + postalSQL + `, c.preferences,
			a.is_root, a.joined, a.ids, a.status, a.basis, a.captured, a.recorded
		FROM root r JOIN contacts c ON c.id = r.root LEFT JOIN agg a ON a.root = r.root`

// postalSQL says a contact (c) has a postal address a letter can be sent to: a street, and a
// city or a postal code.
const postalSQL = `(c.street IS NOT NULL AND (c.city IS NOT NULL OR c.postal_code IS NOT NULL))`

// reachRow is what the reachability queries give for one contact asked about: whether its root
// is active, its address flags and preferences.
type reachRow struct {
	input                                      uuid.UUID
	active, erased                             bool
	hasEmail, emailValid, hasPhone, phoneValid bool
	hasPostal                                  bool
	prefs                                      contact.Preferences
}

// answer applies the rules, in the order of the Reason constants; v is the contact's consent on
// the channel for p.
func (s *Store) answer(r *reachRow, v verdict, channel string, p *Purpose, now time.Time) Answer {
	a := Answer{ContactID: r.input}
	switch {
	case r.erased:
		a.Reason = ReasonErased
		return a
	case !r.active:
		a.Reason = ReasonArchived
		return a
	}
	switch {
	case v.status == Withdrawn:
		a.Reason = ReasonWithdrawn
		return a
	case v.status == Granted && !v.validBasis && p.OptIn:
		a.Reason = ReasonNoLawfulBasis
		return a
	case v.status == "" && p.OptIn:
		a.Reason = ReasonNoConsent
		return a
	}
	if reason := addressReason(r, channel); reason != "" {
		a.Reason = reason
		return a
	}
	if reason := preferenceReason(&r.prefs, channel, p); reason != "" {
		a.Reason = reason
		return a
	}
	if q := r.prefs.QuietHours; q != nil && channel != "mail" {
		loc := time.UTC
		if tz := r.prefs.TimeZone; tz != nil {
			loc = s.zone(*tz)
		}
		if in, end := q.Window(now, loc); in {
			a.Reason, a.NextAllowedAt = ReasonQuietHours, &end
			return a
		}
	}
	a.Allowed, a.Reason = true, ReasonNotWithdrawn
	if v.status == Granted && v.validBasis {
		a.Reason = ReasonConsent
	}
	return a
}

// addressReason checks the contact has a valid address for the channel: an email, a phone, or
// for mail a postal address (postalSQL).
func addressReason(r *reachRow, channel string) string {
	switch channel {
	case "mail":
		if !r.hasPostal {
			return ReasonNoPostalAddress
		}
	case "email":
		if !r.hasEmail {
			return ReasonNoAddress
		}
		if !r.emailValid {
			return ReasonInvalidAddress
		}
	case "sms", "phone":
		if !r.hasPhone {
			return ReasonNoAddress
		}
		if !r.phoneValid {
			return ReasonInvalidAddress
		}
	}
	return ""
}

// preferenceReason checks the contact's preferences allow the channel (and, for purposes that
// need consent, any message at all).
func preferenceReason(prefs *contact.Preferences, channel string, p *Purpose) string {
	if len(prefs.CommunicationMethods) > 0 && !slices.Contains(prefs.CommunicationMethods, channel) {
		return ReasonPreferences
	}
	if n := prefs.Notifications; (channel == "email" && n.Email != nil && !*n.Email) || (channel == "sms" && n.SMS != nil && !*n.SMS) {
		return ReasonPreferences
	}
	if p.OptIn && prefs.Frequency != nil && *prefs.Frequency == contact.FrequencyNever {
		return ReasonFrequency
	}
	return ""
}

// zone returns the named time zone (validated when stored), UTC when it no longer loads.
func (s *Store) zone(name string) *time.Location {
	if l, ok := s.zones.Load(name); ok {
		return l.(*time.Location)
	}
	l, err := contact.LoadTimeZone(name)
	if err != nil {
		l = time.UTC
	}
	s.zones.Store(name, l)
	return l
}
