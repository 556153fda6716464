package consent

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Channels are the channels consent is given or withdrawn for.
var Channels = []string{"email", "sms", "phone", "mail"}

// The statuses of a consent event.
const (
	Granted   = "granted"
	Withdrawn = "withdrawn"
)

// Sources every client may name; any other lower-case word is accepted too (a sync's name).
const (
	SourceAPI             = "api"
	SourceUnsubscribeLink = "unsubscribe_link"
	// SourceMergeUndo marks a withdrawal an undo copied from the survivor to a restored contact.
	SourceMergeUndo = "merge_undo"
)

// Bounds on an event's free text, in characters.
const (
	MaxExplanationLen = 2000
	MaxProofLen       = 500
)

var sourceWord = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// Proof is what shows the event happened as recorded.
type Proof struct {
	IP            string `json:"ip,omitempty"`
	UserAgent     string `json:"userAgent,omitempty"`
	NoticeVersion string `json:"noticeVersion,omitempty"`
}

// Event is one consent event: a contact granted or withdrew consent to be reached on a channel
// for a purpose. Events are never changed or deleted (except by erasure).
type Event struct {
	ID            uuid.UUID
	ContactID     uuid.UUID
	Channel       string
	Purpose       string
	Status        string
	LawfulBasis   string
	Explanation   string
	Source        string
	CapturedAt    time.Time
	DoubleOptInAt *time.Time
	Proof         Proof
	Actor         string
	RecordedAt    time.Time
}

// NewEvent is the input of RecordEvent. A zero CapturedAt is the time of recording; an empty
// LawfulBasis is "consent"; an empty Source is "api".
type NewEvent struct {
	Channel, Purpose, Status, LawfulBasis, Explanation, Source string
	CapturedAt                                                 time.Time
	DoubleOptInAt                                              *time.Time
	Proof                                                      Proof
}

// Validate trims e in place, fills its defaults and reports every invalid field (the purpose's
// existence is checked when the event is stored).
func (e *NewEvent) Validate(now time.Time) error {
	var errs db.FieldErrors
	e.Channel = strings.ToLower(strings.TrimSpace(e.Channel))
	if !slices.Contains(Channels, e.Channel) {
		errs.Add("channel", "must be one of %s", strings.Join(Channels, ", "))
	}
	e.Purpose = strings.ToLower(strings.TrimSpace(e.Purpose))
	if !purposeName.MatchString(e.Purpose) {
		errs.Add("purpose", "must name a purpose")
	}
	e.Status = strings.ToLower(strings.TrimSpace(e.Status))
	if e.Status != Granted && e.Status != Withdrawn {
		errs.Add("status", "must be granted or withdrawn")
	}
	e.LawfulBasis = strings.ToLower(strings.TrimSpace(e.LawfulBasis))
	if e.LawfulBasis == "" {
		e.LawfulBasis = "consent"
	}
	if !slices.Contains(LawfulBases, e.LawfulBasis) {
		errs.Add("lawfulBasis", "must be one of %s", strings.Join(LawfulBases, ", "))
	}
	e.Explanation = contact.CleanText(&errs, "explanation", e.Explanation, MaxExplanationLen)
	e.Source = strings.ToLower(strings.TrimSpace(e.Source))
	if e.Source == "" {
		e.Source = SourceAPI
	}
	if !sourceWord.MatchString(e.Source) {
		errs.Add("source", "must be a lower-case word such as form, import, sync, api or unsubscribe_link")
	}
	if e.CapturedAt.IsZero() {
		e.CapturedAt = now
	} else if e.CapturedAt.After(now.Add(5 * time.Minute)) {
		errs.Add("capturedAt", "must not be in the future")
	}
	if e.DoubleOptInAt != nil {
		switch {
		case e.Status != Granted:
			errs.Add("doubleOptInAt", "applies only to a grant")
		case e.DoubleOptInAt.Before(e.CapturedAt):
			errs.Add("doubleOptInAt", "must not be before capturedAt")
		case e.DoubleOptInAt.After(now.Add(5 * time.Minute)):
			errs.Add("doubleOptInAt", "must not be in the future")
		}
	}
	if e.Proof.IP != "" {
		if ip, err := netip.ParseAddr(strings.TrimSpace(e.Proof.IP)); err != nil {
			errs.Add("proof.ip", "must be an IPv4 or IPv6 address")
		} else {
			e.Proof.IP = ip.String()
		}
	}
	e.Proof.UserAgent = contact.CleanText(&errs, "proof.userAgent", e.Proof.UserAgent, MaxProofLen)
	e.Proof.NoticeVersion = contact.CleanText(&errs, "proof.noticeVersion", e.Proof.NoticeVersion, 100)
	return errs.Err()
}

// RecordEvent validates and appends a consent event for a contact, audited in the same
// transaction. A withdrawal is recorded on the contact named; a grant given to a merged contact
// is recorded on its survivor, as it speaks for the merged person (a grant kept on a merged
// record could otherwise lift a withdrawal that record carries for the contacts merged into it).
// An unknown contact is KindNotFound; an unknown purpose names the field.
func (s *Store) RecordEvent(ctx context.Context, contactID uuid.UUID, in NewEvent) (*Event, error) {
	if err := in.Validate(time.Now()); err != nil {
		return nil, err
	}
	var out *Event
	// Retried on a deadlock: recording locks the contact's survivor, which a merge may be
	// locking with the contacts it merges.
	err := s.db.RetryTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = s.recordTx(ctx, tx, contactID, in)
		return err
	})
	return out, err
}

// RecordEventTx validates and appends a consent event as RecordEvent does, in the caller's
// transaction (a create that carries its consent).
func (s *Store) RecordEventTx(ctx context.Context, tx pgx.Tx, contactID uuid.UUID, in NewEvent) (*Event, error) {
	if err := in.Validate(time.Now()); err != nil {
		return nil, err
	}
	return s.recordTx(ctx, tx, contactID, in)
}

func (s *Store) recordTx(ctx context.Context, tx pgx.Tx, contactID uuid.UUID, in NewEvent) (*Event, error) {
	target := contactID
	if in.Status == Granted {
		var err error
		if target, err = survivorTx(ctx, tx, contactID); err != nil {
			return nil, err
		}
	}
	if err := contact.Require(ctx, tx, target, false); err != nil {
		return nil, err
	}
	out, err := s.insertTx(ctx, tx, target, []NewEvent{in})
	if err != nil {
		return nil, err
	}
	if in.Status == Granted && s.suppressor != nil {
		// A grant lifts what the contact's withdrawal of everything put on the list.
		if err := s.suppressor.LiftContactTx(ctx, tx, target); err != nil {
			return nil, err
		}
	}
	return &out[0], nil
}

// survivorTx returns the contact at the end of id's merges (id itself when it is not merged),
// locked (as insertTx then locks it again to recompute its state) so that it is not merged away
// before the transaction ends. An unknown id is
// KindNotFound.
func survivorTx(ctx context.Context, tx pgx.Tx, id uuid.UUID) (uuid.UUID, error) {
	for range 5 {
		var end uuid.UUID
		var merged bool
		err := tx.QueryRow(ctx, `
			WITH RECURSIVE chain (id, merged_into, depth) AS (
				SELECT id, merged_into, 0 FROM contacts WHERE id = $1
				UNION ALL
				SELECT c.id, c.merged_into, chain.depth + 1 FROM contacts c JOIN chain ON c.id = chain.merged_into
				WHERE chain.depth < 1000)
			SELECT c.id, c.merged_into IS NOT NULL FROM contacts c
			WHERE c.id = (SELECT id FROM chain ORDER BY depth DESC LIMIT 1) FOR UPDATE`, id).Scan(&end, &merged)
		if errors.Is(err, pgx.ErrNoRows) {
			return uuid.Nil, db.NotFound("contact %s not found", id)
		}
		if err != nil {
			return uuid.Nil, fmt.Errorf("consent: survivor of %s: %w", id, err)
		}
		if !merged {
			return end, nil
		}
		// Merged while we looked: follow it again.
	}
	return uuid.Nil, fmt.Errorf("consent: survivor of %s: it keeps being merged", id)
}

// OptOut withdraws the contact's consent on channel for purpose; an empty channel means every
// channel and an empty purpose every purpose. It returns the events recorded (none where the
// contact had withdrawn already).
func (s *Store) OptOut(ctx context.Context, contactID uuid.UUID, channel, purpose, source string) ([]Event, error) {
	var errs db.FieldErrors
	channel, purpose = strings.ToLower(strings.TrimSpace(channel)), strings.ToLower(strings.TrimSpace(purpose))
	if channel != "" && !slices.Contains(Channels, channel) {
		errs.Add("channel", "must be one of %s", strings.Join(Channels, ", "))
	}
	if purpose != "" && !purposeName.MatchString(purpose) {
		errs.Add("purpose", "must name a purpose")
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	var out []Event
	err := s.db.RetryTx(ctx, func(tx pgx.Tx) error { // retried on a deadlock, as RecordEvent
		if err := contact.Require(ctx, tx, contactID, false); err != nil {
			return err
		}
		// Every (channel, purpose) asked for whose own latest event is not a withdrawal already.
		rows, err := tx.Query(ctx, `
			SELECT ch, p.name FROM purposes p CROSS JOIN unnest($2::text[]) ch
			WHERE ($3 = '' OR p.name = $3)
			AND coalesce((SELECT e.status FROM consent_events e WHERE e.contact_id = $1 AND e.channel = ch AND e.purpose = p.name
				ORDER BY e.captured_at DESC, e.id DESC LIMIT 1), '') <> 'withdrawn'
			ORDER BY p.name, ch`, contactID, channelsOf(channel), purpose)
		if err != nil {
			return fmt.Errorf("consent: opt-out %s: %w", contactID, err)
		}
		pairs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
			var p [2]string
			err := r.Scan(&p[0], &p[1])
			return p, err
		})
		if err != nil {
			return fmt.Errorf("consent: opt-out %s: %w", contactID, err)
		}
		if purpose != "" && len(pairs) == 0 {
			if _, err := s.purposeTx(ctx, tx, purpose); err != nil {
				return err
			}
		}
		now := time.Now()
		evs := make([]NewEvent, len(pairs))
		for i, p := range pairs {
			evs[i] = NewEvent{Channel: p[0], Purpose: p[1], Status: Withdrawn, LawfulBasis: "consent", Source: source,
				CapturedAt: now, Explanation: "opt-out"}
		}
		if out, err = s.insertTx(ctx, tx, contactID, evs); err != nil {
			return err
		}
		if channel == "" && purpose == "" && s.suppressor != nil {
			// Withdrawn from everything: imports and sync must not bring the person back.
			return s.suppressor.SuppressContactTx(ctx, tx, contactID)
		}
		return nil
	})
	return out, err
}

func channelsOf(channel string) []string {
	if channel == "" {
		return Channels
	}
	return []string{channel}
}

func (s *Store) purposeTx(ctx context.Context, tx pgx.Tx, name string) (bool, error) {
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM purposes WHERE name = $1)`, name).Scan(&exists); err != nil {
		return false, fmt.Errorf("consent: purpose %s: %w", name, err)
	}
	if !exists {
		return false, db.Invalid("purpose", "is not a known purpose (GET /api/purposes lists them)")
	}
	return true, nil
}

// insertTx appends validated events for a contact, audits each and recomputes the consent state
// of the contact's root (locked first, see state.go).
func (s *Store) insertTx(ctx context.Context, tx pgx.Tx, contactID uuid.UUID, in []NewEvent) ([]Event, error) {
	if len(in) == 0 {
		return nil, nil
	}
	roots, err := lockRootsTx(ctx, tx, []uuid.UUID{contactID})
	if err != nil {
		return nil, err
	}
	actor := contact.ActorFrom(ctx)
	a := contact.NewAudit(ctx)
	out := make([]Event, len(in))
	b := &pgx.Batch{}
	for i, e := range in {
		ev := Event{ID: uuid.Must(uuid.NewV7()), ContactID: contactID, Channel: e.Channel, Purpose: e.Purpose, Status: e.Status,
			LawfulBasis: e.LawfulBasis, Explanation: e.Explanation, Source: e.Source, CapturedAt: e.CapturedAt.UTC(),
			DoubleOptInAt: e.DoubleOptInAt, Proof: e.Proof, Actor: actor}
		out[i] = ev
		// Recorded at the clock's time once the root is locked, not at the transaction's start:
		// a merge stamps its time under the same lock (merges.created_at), so whether an event
		// came before or after a merge of its contact is the order the two took the lock in.
		b.Queue(`INSERT INTO consent_events (id, contact_id, channel, purpose, status, lawful_basis, explanation, source,
				captured_at, double_opt_in_at, proof, actor, recorded_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, clock_timestamp()) RETURNING recorded_at`,
			ev.ID, ev.ContactID, ev.Channel, ev.Purpose, ev.Status, ev.LawfulBasis, ev.Explanation, ev.Source,
			ev.CapturedAt, ev.DoubleOptInAt, ev.Proof, ev.Actor).QueryRow(func(r pgx.Row) error { return r.Scan(&out[i].RecordedAt) })
		cid := contactID
		a.Add("consent_"+ev.Status, "consent_event", ev.ID, &cid, map[string]contact.Change{
			"consent." + ev.Channel + "." + ev.Purpose: {After: ev.Status},
			"lawfulBasis": {After: ev.LawfulBasis}, "source": {After: ev.Source}})
	}
	a.Queue(b)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		switch {
		case db.Code(err) == db.CodeFKViolation && strings.Contains(err.Error(), "purpose"):
			return nil, db.Invalid("purpose", "is not a known purpose (GET /api/purposes lists them)")
		case db.Code(err) == db.CodeFKViolation:
			return nil, db.NotFound("contact %s not found", contactID)
		}
		return nil, fmt.Errorf("consent: record events of %s: %w", contactID, err)
	}
	if err := refreshTx(ctx, tx, roots); err != nil {
		return nil, err
	}
	return out, nil
}

// History is a contact's consent: the effective state per (channel, purpose) over the contact
// and every contact merged into it, and the events themselves, newest first.
type History struct {
	// ContactID is the contact answered for: the survivor at the end of the asked contact's
	// merges.
	ContactID uuid.UUID
	Current   []State
	Events    []Event
}

// State is the effective consent of a contact on a channel for a purpose.
type State struct {
	Channel, Purpose string
	// Status is granted or withdrawn, as the rules decide over every merged record.
	Status string
	// Event is the event that decides the state.
	Event Event
}

// MaxHistory bounds the events History returns.
const MaxHistory = 1000

// History returns the consent of a contact (of its survivor, when merged): the effective state
// of every (channel, purpose) with events, and the latest MaxHistory events.
func (s *Store) History(ctx context.Context, contactID uuid.UUID) (*History, error) {
	root, fold, err := s.fold(ctx, contactID)
	if err != nil {
		return nil, err
	}
	if err := contact.Require(ctx, s.db.Pool, root, false); err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, 0, len(fold))
	for id := range fold {
		ids = append(ids, id)
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT id, contact_id, channel, purpose, status, lawful_basis, explanation, source,
			captured_at, double_opt_in_at, proof, actor, recorded_at
		FROM consent_events WHERE contact_id = ANY($1) ORDER BY captured_at DESC, id DESC LIMIT $2`, ids, MaxHistory)
	if err != nil {
		return nil, fmt.Errorf("consent: history of %s: %w", contactID, err)
	}
	evs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) {
		var e Event
		err := r.Scan(&e.ID, &e.ContactID, &e.Channel, &e.Purpose, &e.Status, &e.LawfulBasis, &e.Explanation, &e.Source,
			&e.CapturedAt, &e.DoubleOptInAt, &e.Proof, &e.Actor, &e.RecordedAt)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("consent: history of %s: %w", contactID, err)
	}
	h := &History{ContactID: root, Events: evs}
	// Each contact's own latest event per (channel, purpose): events are newest first.
	type key struct {
		channel, purpose string
	}
	latest := map[key]map[uuid.UUID]Event{}
	var keys []key
	for _, e := range evs {
		k := key{e.Channel, e.Purpose}
		if latest[k] == nil {
			latest[k] = map[uuid.UUID]Event{}
			keys = append(keys, k)
		}
		if _, seen := latest[k][e.ContactID]; !seen {
			latest[k][e.ContactID] = e
		}
	}
	slices.SortFunc(keys, func(a, b key) int { return strings.Compare(a.purpose+"/"+a.channel, b.purpose+"/"+b.channel) })
	for _, k := range keys {
		var own []ownEvent
		byID := map[uuid.UUID]Event{}
		for cid, e := range latest[k] {
			own = append(own, ownEvent{ID: e.ID, Root: cid == root, Joined: fold[cid], Status: e.Status, Basis: e.LawfulBasis,
				Captured: e.CapturedAt, Recorded: e.RecordedAt})
			byID[e.ID] = e
		}
		v := decide(own, nil)
		h.Current = append(h.Current, State{Channel: k.channel, Purpose: k.purpose, Status: v.status, Event: byID[v.event]})
	}
	return h, nil
}

// fold returns the contact at the end of id's merges and every contact merged into it, with
// the time each joined it (see foldSQL).
func (s *Store) fold(ctx context.Context, id uuid.UUID) (uuid.UUID, map[uuid.UUID]time.Time, error) {
	rows, err := s.db.Pool.Query(ctx, foldSQL+` SELECT f.root, f.id, f.joined FROM fold f`, []uuid.UUID{id})
	if err != nil {
		return uuid.Nil, nil, fmt.Errorf("consent: merged records of %s: %w", id, err)
	}
	defer rows.Close()
	var root uuid.UUID
	out := map[uuid.UUID]time.Time{}
	for rows.Next() {
		var member uuid.UUID
		var joined time.Time
		if err := rows.Scan(&root, &member, &joined); err != nil {
			return uuid.Nil, nil, fmt.Errorf("consent: merged records of %s: %w", id, err)
		}
		out[member] = joined
	}
	if err := rows.Err(); err != nil {
		return uuid.Nil, nil, fmt.Errorf("consent: merged records of %s: %w", id, err)
	}
	if len(out) == 0 {
		return uuid.Nil, nil, db.NotFound("contact %s not found", id)
	}
	return root, out, nil
}
