package consent

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
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
	ReasonWithdrawn      = "withdrawn"       // consent withdrawn on a record of the contact
	ReasonNoConsent      = "no_consent"      // an opt-in purpose and no grant on record
	ReasonNoLawfulBasis  = "no_lawful_basis" // grants, but none on a basis the purpose accepts
	ReasonNoAddress      = "no_address"      // no email or phone for the channel
	ReasonInvalidAddress = "invalid_address" // the email or phone is invalid
	ReasonPreferences    = "preferences"     // the contact's preferences exclude the channel
	ReasonFrequency      = "frequency"       // the contact wants no non-service messages
	ReasonQuietHours     = "quiet_hours"     // now is in the contact's quiet hours
	ReasonConsent        = "consent"         // allowed: a grant on an accepted basis
	ReasonNotWithdrawn   = "not_withdrawn"   // allowed: an opt-out purpose, not withdrawn
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
	if as[0].Reason == ReasonNotFound {
		return nil, db.NotFound("contact %s not found", contactID)
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
	p, err := s.Purpose(ctx, purpose)
	if db.ErrorKind(err) == db.KindNotFound {
		return nil, db.Invalid("purpose", "is not a known purpose (GET /api/purposes lists them)")
	}
	if err != nil {
		return nil, err
	}
	found := make(map[uuid.UUID]Answer, len(ids))
	now := s.now()
	// Most contacts are active and have no merged records: one pass over them answers them
	// (simpleSQL); the others take the fold (reachSQL).
	var folded []uuid.UUID
	// One snapshot for both queries; JIT compilation would cost more than these index probes.
	err = pgx.BeginTxFunc(ctx, s.db.Pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL jit = off`); err != nil {
			return fmt.Errorf("consent: reachability: %w", err)
		}
		err := scan(ctx, tx, simpleSQL, []any{ids, channel, purpose}, func(r *reachRow, simple bool) {
			if !simple {
				folded = append(folded, r.input)
				return
			}
			found[r.input] = s.answer(r, channel, p, now)
		})
		if err != nil || len(folded) == 0 {
			return err
		}
		return scan(ctx, tx, reachSQL, []any{folded, channel, purpose}, func(r *reachRow, _ bool) {
			found[r.input] = s.answer(r, channel, p, now)
		})
	})
	if err != nil {
		return nil, err
	}
	out := make([]Answer, len(ids))
	for i, id := range ids {
		a, ok := found[id]
		if !ok {
			a = Answer{ContactID: id, Reason: ReasonNotFound}
		}
		out[i] = a
	}
	return out, nil
}

// scan runs a reachability query and hands each row to fn, with whether the contact stands
// alone (active, nothing merged into it).
func scan(ctx context.Context, q db.Querier, sql string, args []any, fn func(r *reachRow, simple bool)) error {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("consent: reachability: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r reachRow
		var prefs []byte
		var simple bool
		if err := rows.Scan(&r.input, &simple, &r.status, &r.hasEmail, &r.emailValid, &r.hasPhone, &r.phoneValid, &prefs,
			&r.isRoot, &r.joined, &r.ids, &r.statuses, &r.bases, &r.captured, &r.recorded); err != nil {
			return fmt.Errorf("consent: reachability: %w", err)
		}
		if err := json.Unmarshal(prefs, &r.prefs); err != nil {
			return fmt.Errorf("consent: reachability: preferences of %s: %w", r.input, err)
		}
		fn(&r, simple)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("consent: reachability: %w", err)
	}
	return nil
}

// simpleSQL answers the contacts of $1 that exist, as reachSQL does, from their own latest
// event on channel $2 for purpose $3; simple is false for those that are merged or have contacts
// merged into them, whose answer needs reachSQL.
const simpleSQL = `
	SELECT c.id, c.merged_into IS NULL AND c.id NOT IN (SELECT m.merged_into FROM contacts m WHERE m.merged_into IS NOT NULL),
		c.status, c.email IS NOT NULL, c.email_normalized IS NOT NULL, c.phone IS NOT NULL,
		coalesce(c.phone_valid, true), c.preferences,
		CASE WHEN e.id IS NULL THEN NULL ELSE ARRAY[true] END,
		CASE WHEN e.id IS NULL THEN NULL ELSE ARRAY['1970-01-01 00:00:00+00'::timestamptz] END,
		CASE WHEN e.id IS NULL THEN NULL ELSE ARRAY[e.id] END,
		CASE WHEN e.id IS NULL THEN NULL ELSE ARRAY[e.status] END,
		CASE WHEN e.id IS NULL THEN NULL ELSE ARRAY[e.lawful_basis] END,
		CASE WHEN e.id IS NULL THEN NULL ELSE ARRAY[e.captured_at] END,
		CASE WHEN e.id IS NULL THEN NULL ELSE ARRAY[e.recorded_at] END
	FROM contacts c
	LEFT JOIN LATERAL (
		SELECT e.id, e.status, e.lawful_basis, e.captured_at, e.recorded_at FROM consent_events e
		WHERE e.contact_id = c.id AND e.channel = $2 AND e.purpose = $3
		ORDER BY e.captured_at DESC, e.id DESC LIMIT 1) e ON true
	WHERE c.id = ANY($1::uuid[])`

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
		SELECT r.input, true, c.status, c.email IS NOT NULL, c.email_normalized IS NOT NULL, c.phone IS NOT NULL,
			coalesce(c.phone_valid, true), c.preferences,
			a.is_root, a.joined, a.ids, a.status, a.basis, a.captured, a.recorded
		FROM root r JOIN contacts c ON c.id = r.root LEFT JOIN agg a ON a.root = r.root`

// reachRow is what the reachability query gives for one contact asked about: its root's status,
// address flags and preferences, and the latest event of each of the root's records.
type reachRow struct {
	input                                      uuid.UUID
	status                                     string
	hasEmail, emailValid, hasPhone, phoneValid bool
	prefs                                      contact.Preferences
	isRoot                                     []bool
	joined, captured, recorded                 []time.Time
	ids                                        []uuid.UUID
	statuses, bases                            []string
}

// answer applies the rules, in the order of the Reason constants.
func (s *Store) answer(r *reachRow, channel string, p *Purpose, now time.Time) Answer {
	a := Answer{ContactID: r.input}
	if r.status != string(contact.StatusActive) {
		a.Reason = ReasonArchived
		return a
	}
	own := make([]ownEvent, len(r.ids))
	for i := range r.ids {
		own[i] = ownEvent{ID: r.ids[i], Root: r.isRoot[i], Joined: r.joined[i], Status: r.statuses[i], Basis: r.bases[i],
			Captured: r.captured[i], Recorded: r.recorded[i]}
	}
	v := decide(own, p.LawfulBases)
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

// addressReason checks the contact has a valid address for the channel. Postal addresses are
// not kept yet, so mail is not checked.
func addressReason(r *reachRow, channel string) string {
	switch channel {
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
