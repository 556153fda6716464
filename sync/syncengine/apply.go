package syncengine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/contactfile"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/matcher"
	"github.com/contactd/contactd/sync/source"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// fetchStubs replaces the page's stubs whose ETag changed by their full records.
func (e *Engine) fetchStubs(ctx context.Context, conn Connector, src *source.Source, page *Page, st *source.Stats) error {
	var ids []string
	for _, r := range page.Records {
		if r.Stub {
			ids = append(ids, r.RemoteID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	known, err := e.linksByID(ctx, src.ID, ids)
	if err != nil {
		return err
	}
	var need []string
	kept := page.Records[:0]
	for _, r := range page.Records {
		if !r.Stub {
			kept = append(kept, r)
			continue
		}
		if l := known[r.RemoteID]; l != nil && l.ETag != nil && *l.ETag == r.ETag && r.ETag != "" && !l.Deleted {
			// Unchanged: kept as a stub, so that a listing still counts it as seen.
			kept = append(kept, r)
			continue
		}
		need = append(need, r.RemoteID)
	}
	if len(need) == 0 {
		page.Records = kept
		return nil
	}
	full, n, err := conn.Fetch(ctx, need)
	st.Requests += int64(n)
	if err != nil {
		return err
	}
	page.Records = append(kept, full...)
	return nil
}

func (e *Engine) linksByID(ctx context.Context, sourceID uuid.UUID, ids []string) (map[string]*source.Link, error) {
	var out map[string]*source.Link
	err := e.Sources.DB().InTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = source.LinksTx(ctx, tx, sourceID, ids)
		return err
	})
	return out, err
}

// pass is one run as its pages are applied.
type pass struct {
	src *source.Source
	run *source.Run
	// listing says the run lists every record (a full sync of a Listing connector).
	listing bool
}

// applyPage writes a page's records; a record that cannot be synced is reported in st and the
// others go on. Records new to the source are written together (createPage); the others each
// under a savepoint.
func (e *Engine) applyPage(ctx context.Context, tx pgx.Tx, p *pass, recs []Record, st *source.Stats) error {
	// The last version of a remote id in the page counts.
	last := map[string]int{}
	for i, r := range recs {
		last[r.RemoteID] = i
	}
	ids := make([]string, 0, len(last))
	for id := range last {
		if id != "" {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	links, err := source.LinksTx(ctx, tx, p.src.ID, ids)
	if err != nil {
		return err
	}
	var fresh []*Record
	for i := range recs {
		r := &recs[i]
		if r.Stub {
			continue // unchanged, seen
		}
		st.Pulled++
		if last[r.RemoteID] != i {
			continue
		}
		if r.RemoteID == "" {
			st.Errors = append(st.Errors, source.RunError{Ref: fmt.Sprintf("record %d", i), Message: "the record has no remote id"})
			continue
		}
		if links[r.RemoteID] == nil && !r.Deleted {
			fresh = append(fresh, r)
			continue
		}
		if err := e.applyOne(ctx, tx, p.src, links[r.RemoteID], r, st); err != nil {
			return err
		}
	}
	if err := e.createPage(ctx, tx, p.src, fresh, st); err != nil {
		return err
	}
	if p.listing {
		return source.SeenTx(ctx, tx, p.src.ID, p.run.ID, ids)
	}
	return nil
}

// applyOne applies one record under a savepoint: a record that fails is reported in st; an
// internal error fails the page.
func (e *Engine) applyOne(ctx context.Context, tx pgx.Tx, src *source.Source, link *source.Link, r *Record, st *source.Stats) error {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return fmt.Errorf("syncengine: savepoint: %w", err)
	}
	var one source.Stats
	err = e.applyRecord(ctx, sp, src, link, r, &one)
	if err != nil {
		_ = sp.Rollback(ctx)
		if db.ErrorKind(err) == db.KindInternal {
			return err
		}
		st.Errors = append(st.Errors, source.RunError{Ref: r.RemoteID, Message: err.Error()})
		return nil
	}
	if err := sp.Commit(ctx); err != nil {
		return fmt.Errorf("syncengine: release savepoint: %w", err)
	}
	st.Add(one)
	return nil
}

func (e *Engine) applyRecord(ctx context.Context, tx pgx.Tx, src *source.Source, link *source.Link, r *Record, st *source.Stats) error {
	var vals contact.Values
	var custom contact.CustomValues
	state := source.State{Values: map[string]string{}}
	cw := &customWrite{}
	if !r.Deleted {
		var err error
		if cw.defs, err = definitionsFor(ctx, tx, []*Record{r}); err != nil {
			return err
		}
		if vals, custom, state, err = recordState(r, cw.defs); err != nil {
			return err
		}
		cw.values = custom
	}
	hash := stateHash(state, r.Deleted)
	if link != nil && bytes.Equal(link.ContentHash, hash) {
		// Same content (the server rewrote it, or our own write came back): not re-imported;
		// its new version is remembered so that it is not fetched again.
		if r.ETag != "" && (link.ETag == nil || *link.ETag != r.ETag) {
			return source.TouchLinksTx(ctx, tx, src.ID, r.RemoteID, contact.Nullable(r.ETag), r.Raw)
		}
		return nil
	}
	next := &source.Link{SourceID: src.ID, RemoteID: r.RemoteID, ContentHash: hash, Payload: state, Raw: r.Raw,
		ETag: contact.Nullable(r.ETag), RemoteUpdated: contact.Nullable(r.Updated), Deleted: r.Deleted}
	a := contact.NewAudit(ctx)
	switch {
	case r.Deleted && link == nil:
		return nil // never seen, nothing to archive
	case r.Deleted:
		if err := e.remoteDeleted(ctx, tx, link, next, st, a); err != nil {
			return err
		}
	case link != nil:
		next.ContactID, next.Decision, next.MergedFrom = link.ContactID, link.Decision, link.MergedFrom
		if link.Deleted {
			// The record came back: its contact is un-archived if this source archived it and
			// nothing changed it since.
			if err := e.cameBack(ctx, tx, link, st, a); err != nil {
				return err
			}
		}
		if err := e.update(ctx, tx, src, link, r, vals, cw, next, st, a); err != nil {
			return err
		}
	default:
		if err := e.place(ctx, tx, src, r, vals, cw, next, st, a); err != nil {
			return err
		}
	}
	return source.PutLinkTx(ctx, tx, next)
}

// remoteDeleted archives the contact of a record deleted remotely (never a hard delete).
func (e *Engine) remoteDeleted(ctx context.Context, tx pgx.Tx, link, next *source.Link, st *source.Stats, a *contact.Audit) error {
	by := source.DeletedRemotely
	next.ContactID, next.Decision, next.Payload, next.MergedFrom = link.ContactID, link.Decision, link.Payload, link.MergedFrom
	next.DeletedBy, next.Raw = &by, link.Raw
	if link.Deleted {
		next.DeletedBy, next.ArchivedContact = link.DeletedBy, link.ArchivedContact
		return nil
	}
	if link.MergedFrom != nil {
		// The record of a contact merged away (the phone's duplicate card deleted): the
		// survivor lives on.
		return nil
	}
	if other, err := source.LinkedElsewhereTx(ctx, tx, link.SourceID, link.ContactID, link.RemoteID); err != nil || other {
		// Another card of the source is linked to the contact (two cards of one person): the
		// contact is archived when its last card goes.
		return err
	}
	changed, err := contact.ArchiveTx(ctx, tx, link.ContactID, a)
	if err != nil {
		return err
	}
	next.ArchivedContact = changed
	if changed {
		st.Deleted++
	}
	return nil
}

// cameBack un-archives the contact of a deleted record that is back, when this source's
// delete archived it and nothing changed the contact since (a person's archive stays).
func (e *Engine) cameBack(ctx context.Context, tx pgx.Tx, link *source.Link, st *source.Stats, a *contact.Audit) error {
	if !link.ArchivedContact {
		return nil
	}
	cs, err := contact.LockTx(ctx, tx, []uuid.UUID{link.ContactID})
	if err != nil {
		return err
	}
	c := cs[link.ContactID]
	if c == nil || c.Status != contact.StatusArchived || c.UpdatedAt.After(link.SyncedAt) {
		return nil
	}
	changed, err := contact.UnarchiveTx(ctx, tx, c.ID, a)
	if err != nil {
		return err
	}
	if changed {
		st.Updated++
	}
	return a.Flush(ctx, tx)
}

// syncNote is the audit change naming the record a sync change came from.
func syncNote(src *source.Source, remoteID string) contact.Change {
	return contact.Change{After: map[string]any{"sourceId": src.ID.String(), "remoteId": remoteID}}
}

// policyTakesRemote says whether a field changed on both sides takes the remote's value.
func policyTakesRemote(src *source.Source, remoteUpdated string, local *contact.Contact) bool {
	switch src.ConflictPolicy {
	case source.RemoteWins:
		return true
	case source.LocalWins:
		return false
	}
	if t, err := time.Parse(time.RFC3339Nano, remoteUpdated); err == nil {
		return t.After(local.UpdatedAt)
	}
	return true
}

// update applies a changed record to its linked contact: a field the remote changed since the
// last sync is taken unless the contact changed it too (a conflict, settled by the source's
// policy, recorded on the run and in the contact's audit); sets merge additions and removals
// from both sides.
// customWrite is a record's custom field values (stored forms) with the definitions they
// were validated by (nil when the record carries none: no lock was taken).
type customWrite struct {
	defs   contact.Definitions
	values contact.CustomValues
}

// definitionsFor reads the custom field definitions under their shared lock when one of the
// records carries a custom field (customFields.<key>), else nil.
func definitionsFor(ctx context.Context, tx pgx.Tx, recs []*Record) (contact.Definitions, error) {
	for _, r := range recs {
		for name := range r.Values {
			if strings.HasPrefix(name, contact.CustomPrefix) {
				return contact.DefinitionsTx(ctx, tx)
			}
		}
	}
	return nil, nil
}

// claim claims the unique custom values c has anew since before.
func (cw *customWrite) claim(ctx context.Context, tx pgx.Tx, c, before *contact.Contact) error {
	if cw.defs == nil {
		return nil
	}
	return contact.ClaimCustomTx(ctx, tx, c.ID, cw.defs, before.Custom, c.Custom)
}

func (e *Engine) update(ctx context.Context, tx pgx.Tx, src *source.Source, link *source.Link, r *Record, vals contact.Values, cw *customWrite, next *source.Link, st *source.Stats, a *contact.Audit) error {
	cs, err := contact.LockTx(ctx, tx, []uuid.UUID{link.ContactID})
	if err != nil {
		return err
	}
	c := cs[link.ContactID]
	if c == nil {
		return db.NotFound("linked contact %s is gone", link.ContactID)
	}
	if c.Status == contact.StatusMerged {
		return db.Conflict("linked contact %s was merged", link.ContactID)
	}
	before := *c
	takeRemote := policyTakesRemote(src, r.Updated, c)
	conflicts := map[string]contact.Change{}
	for _, f := range contact.Fields {
		base, remote := link.Payload.Values[f.Name], next.Payload.Values[f.Name]
		local := ""
		if v := f.Get(&c.Values); v != nil {
			local = *v
		}
		if !threeWay(st, conflicts, r.RemoteID, c.ID, f.Name, base, local, remote, takeRemote,
			contact.Change{Before: contact.StrValue(f.Get(&c.Values)), After: contact.StrValue(f.Get(&vals))}) {
			continue
		}
		*f.Ptr(&c.Values) = f.Get(&vals)
	}
	// Custom fields the record carries (or carried), by the same three-way rule.
	c.Custom = maps.Clone(c.Custom)
	if c.Custom == nil {
		c.Custom = contact.CustomValues{}
	}
	for _, name := range customNames(link.Payload.Values, next.Payload.Values) {
		key := strings.TrimPrefix(name, contact.CustomPrefix)
		base, remote := link.Payload.Values[name], next.Payload.Values[name]
		local := contactfile.CustomText(c.Custom[key])
		if !threeWay(st, conflicts, r.RemoteID, c.ID, name, base, local, remote, takeRemote,
			contact.Change{Before: c.Custom[key], After: cw.values[key]}) {
			continue
		}
		if v, ok := cw.values[key]; ok {
			c.Custom[key] = v
		} else {
			delete(c.Custom, key)
		}
	}
	if err := cw.claim(ctx, tx, c, &before); err != nil {
		return err
	}
	if len(conflicts) > 0 {
		conflicts["sync"] = syncNote(src, r.RemoteID)
		a.Add("sync_conflict", "contact", c.ID, &c.ID, conflicts)
	}
	sets, setsDiverge, err := e.mergeSets(ctx, tx, c, link.Payload, next.Payload)
	if err != nil {
		return err
	}
	if setsDiverge || !maps.Equal(contactValues(c), next.Payload.Values) {
		// The contact keeps something the record lacks (a local change): the link stays as
		// old as it was, so that the push finds it.
		next.SyncedAt = link.SyncedAt
	}
	return e.write(ctx, tx, src, r.RemoteID, c, &before, sets, a, &st.Updated)
}

// setChange is a set field's value before and after a sync change.
type setChange struct {
	name, kind    string
	before, after []string
}

// mergeSets merges the sets the remote carries three ways (base, the contact's, the remote's)
// and returns those that change the contact, and whether the merged sets differ from the
// remote's (the contact has something to push).
func (e *Engine) mergeSets(ctx context.Context, tx pgx.Tx, c *contact.Contact, base, remote source.State) ([]setChange, bool, error) {
	if remote.Emails == nil && remote.Phones == nil && remote.Tags == nil {
		return nil, false, nil
	}
	local, err := e.localStates(ctx, tx, []*contact.Contact{c}, map[uuid.UUID]source.State{c.ID: remote})
	if err != nil {
		return nil, false, err
	}
	diverge := false
	mine := local[c.ID]
	var out []setChange
	for _, set := range sets {
		rv := *set.get(&remote)
		if rv == nil {
			continue
		}
		lv := *set.get(&mine)
		own := c.Email
		if set.kind == "phone" {
			own = c.Phone
		} else if set.kind == "" {
			own = nil
		}
		merged := cleanSet(set.kind, mergeSet(set.kind, *set.get(&base), lv, rv), own)
		if !slices.Equal(merged, cleanSet(set.kind, lv, own)) {
			out = append(out, setChange{name: set.name, kind: set.kind, before: lv, after: merged})
		}
		if !slices.Equal(merged, cleanSet(set.kind, rv, own)) {
			diverge = true
		}
	}
	return out, diverge, nil
}

// localStates reads the contacts' states, each projected on what carries[id] carries.
func (e *Engine) localStates(ctx context.Context, q db.Querier, cs []*contact.Contact, carries map[uuid.UUID]source.State) (map[uuid.UUID]source.State, error) {
	ids := make([]uuid.UUID, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	alts, err := contact.AlternatesOf(ctx, q, ids)
	if err != nil {
		return nil, err
	}
	tags, err := e.Tags.TagsOf(ctx, q, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[uuid.UUID]source.State, len(cs))
	for _, c := range cs {
		out[c.ID] = localState(c, alts[c.ID], tags[c.ID], carries[c.ID])
	}
	return out, nil
}

// write stores a contact's changed values and sets with their audit entry and, when a matched
// field changed, its normalize job (which rekeys it and checks it for duplicates).
func (e *Engine) write(ctx context.Context, tx pgx.Tx, src *source.Source, remoteID string, c, before *contact.Contact, sets []setChange, a *contact.Audit, counter *int64) error {
	if c.FirstName == nil && c.LastName == nil && c.Email == nil && c.Phone == nil {
		return db.Invalid("firstName", "the change would leave the contact without a name, an email or a phone")
	}
	changes := c.Changes(before)
	if len(changes) == 0 && len(sets) == 0 {
		return a.Flush(ctx, tx)
	}
	if _, ok := changes["email"]; ok {
		c.Normalized.Email = contact.EmailKey(c.Email)
		if c.Email != nil {
			other, err := contact.ActiveWithEmailTx(ctx, tx, *c.Email)
			if err != nil {
				return err
			}
			if other != nil && *other != c.ID {
				return db.Conflict("email %s belongs to contact %s", *c.Email, other)
			}
		}
	}
	if _, ok := changes["phone"]; ok {
		c.Normalized.Phone, c.Normalized.PhoneExtension, c.Normalized.PhoneValid = nil, nil, nil
	}
	if len(changes) > 0 {
		if err := contact.WriteTx(ctx, tx, []*contact.Contact{c}, false); err != nil {
			return err
		}
	}
	for _, s := range sets {
		if s.kind == "" {
			if _, err := e.Tags.SetTx(ctx, tx, a, c.ID, s.after); err != nil {
				return err
			}
			continue
		}
		if _, _, err := contact.SetAlternatesTx(ctx, tx, s.kind, map[uuid.UUID][]string{c.ID: s.after}); err != nil {
			return err
		}
		changes[s.name] = contact.Change{Before: s.before, After: s.after}
	}
	if len(changes) > 0 {
		changes["sync"] = syncNote(src, remoteID)
		a.Add("update", "contact", c.ID, &c.ID, changes)
	}
	if err := a.Flush(ctx, tx); err != nil {
		return err
	}
	if contact.MatchedFieldChanged(changes) {
		if _, err := e.Sources.DB().Jobs.InsertTx(ctx, tx, contact.NormalizeArgs{ContactID: c.ID}, nil); err != nil {
			return fmt.Errorf("syncengine: enqueue normalize: %w", err)
		}
	}
	*counter++
	return nil
}

// decision records how a new record found its contact.
type decision struct {
	By       string      `json:"by"` // created, email, match, pushed
	Score    float64     `json:"score,omitempty"`
	Possible []uuid.UUID `json:"possible,omitempty"` // likely matches not sure enough to link
}

// place finds the contact of a record seen for the first time: the active contact with its
// email, else the one the matcher is sure of (linked, its empty fields filled), else a new one.
func (e *Engine) place(ctx context.Context, tx pgx.Tx, src *source.Source, r *Record, vals contact.Values, cw *customWrite, next *source.Link, st *source.Stats, a *contact.Audit) error {
	var d decision
	var target *uuid.UUID
	if vals.Email != nil {
		id, err := contact.ActiveWithEmailTx(ctx, tx, *vals.Email)
		if err != nil {
			return err
		}
		if id != nil {
			target, d.By = id, "email"
		}
	}
	if target == nil {
		matches, err := e.Matcher.CheckRecord(ctx, &contact.Contact{Values: vals})
		if err != nil {
			return err
		}
		target = sure(matches, &d)
	}
	if target != nil {
		next.ContactID, next.Decision = *target, mustJSON(d)
		diverge, err := e.link(ctx, tx, src, r, vals, cw, next.Payload, *target, st, a)
		if diverge {
			// The contact has more than the record: the push finds it.
			next.SyncedAt = time.Unix(0, 0).UTC()
		}
		return err
	}
	// A record held back from its page's set write (the same person as an earlier record of the
	// page, an uncertain match) is checked here, so that no path re-creates a suppressed person.
	if e.Suppressor != nil {
		hit, err := e.Suppressor.SuppressedTx(ctx, tx, []contact.Values{vals}, e.DefaultRegion)
		if err != nil {
			return err
		}
		if hit[0] {
			return &db.Error{Kind: db.KindSuppressed, Message: suppressedMessage}
		}
	}
	d.By = "created"
	next.Decision = mustJSON(d)
	id := uuid.Must(uuid.NewV7())
	if len(cw.values) > 0 {
		if err := contact.ClaimCustomTx(ctx, tx, id, cw.defs, nil, cw.values); err != nil {
			return err
		}
	}
	if err := e.createMany(ctx, tx, src, []newContact{{id: id, remoteID: r.RemoteID, vals: vals, custom: cw.values, state: next.Payload}}); err != nil {
		return err
	}
	next.ContactID = id
	st.Created++
	return nil
}

// sure returns the contact the matcher is sure of (nil when none), noting the likely ones.
func sure(matches []dedupeMatch, d *decision) *uuid.UUID {
	var target *uuid.UUID
	for _, m := range matches {
		if m.Decision == matcher.Same && target == nil {
			id := m.ContactID
			target, d.By, d.Score = &id, "match", m.Probability
			continue
		}
		d.Possible = append(d.Possible, m.ContactID)
	}
	return target
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// link ties a record to a contact we already have, filling the contact's empty fields and
// adding the record's further emails, phones and tags.
func (e *Engine) link(ctx context.Context, tx pgx.Tx, src *source.Source, r *Record, vals contact.Values, cw *customWrite, state source.State, id uuid.UUID, st *source.Stats, a *contact.Audit) (bool, error) {
	cs, err := contact.LockTx(ctx, tx, []uuid.UUID{id})
	if err != nil {
		return false, err
	}
	c := cs[id]
	if c == nil || c.Status != contact.StatusActive {
		return false, db.Conflict("contact %s changed while it was matched", id)
	}
	before := *c
	for _, f := range contact.Fields {
		if f.Get(&c.Values) == nil {
			*f.Ptr(&c.Values) = f.Get(&vals)
		}
	}
	for k, v := range cw.values {
		if _, ok := c.Custom[k]; !ok {
			c.Custom = maps.Clone(c.Custom)
			if c.Custom == nil {
				c.Custom = contact.CustomValues{}
			}
			c.Custom[k] = v
		}
	}
	if err := cw.claim(ctx, tx, c, &before); err != nil {
		return false, err
	}
	// Against an empty base, the record's sets are all additions.
	sets, diverge, err := e.mergeSets(ctx, tx, c, source.State{}, state)
	if err != nil {
		return false, err
	}
	var filled int64
	if err := e.write(ctx, tx, src, r.RemoteID, c, &before, sets, a, &filled); err != nil {
		return false, err
	}
	if filled == 0 {
		// Nothing to fill: the link itself is audited.
		a.Add("sync", "contact", id, &id, map[string]contact.Change{"sync": syncNote(src, r.RemoteID)})
		if err := a.Flush(ctx, tx); err != nil {
			return false, err
		}
	}
	st.Linked++
	return diverge || !maps.Equal(contactValues(c), state.Values), nil
}

// threeWay decides one value of a linked record against the contact's: base is the record's
// value at the last sync, remote its value now, local the contact's. Nothing is taken when the
// record did not change it or agrees with the contact. When both sides changed it, takeRemote
// (the source's policy) decides, and the conflict is recorded on the run (st) and for the
// contact's audit (conflicts, with audit as its before and after). It reports whether to take
// the remote value.
func threeWay(st *source.Stats, conflicts map[string]contact.Change, ref string, contactID uuid.UUID, field, base, local, remote string,
	takeRemote bool, audit contact.Change) bool {
	if remote == base || remote == local {
		return false
	}
	if local == base {
		return true
	}
	kept := "local"
	if takeRemote {
		kept = "remote"
	}
	st.Conflicts++
	st.ConflictLog = append(st.ConflictLog, source.Conflict{Ref: ref, ContactID: contactID, Field: field,
		Local: contact.Nullable(local), Remote: contact.Nullable(remote), Kept: kept})
	conflicts[field] = audit
	conflicts["kept"] = contact.Change{After: kept}
	return takeRemote
}
