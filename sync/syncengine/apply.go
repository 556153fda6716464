package syncengine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/contactd/contactd/contact"
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
		if l := known[r.RemoteID]; l != nil && l.ETag != nil && *l.ETag == r.ETag && r.ETag != "" {
			continue
		}
		need = append(need, r.RemoteID)
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

// applyPage writes a page's records; a record that cannot be synced is reported in st and the
// others go on (each record is a savepoint).
func (e *Engine) applyPage(ctx context.Context, tx pgx.Tx, src *source.Source, recs []Record, st *source.Stats) error {
	// The last version of a remote id in the page counts.
	last := map[string]int{}
	for i, r := range recs {
		last[r.RemoteID] = i
	}
	ids := make([]string, 0, len(last))
	for id := range last {
		ids = append(ids, id)
	}
	links, err := source.LinksTx(ctx, tx, src.ID, ids)
	if err != nil {
		return err
	}
	st.Pulled += int64(len(recs))
	for i := range recs {
		r := &recs[i]
		if last[r.RemoteID] != i {
			continue
		}
		if r.RemoteID == "" {
			st.Errors = append(st.Errors, source.RunError{Ref: fmt.Sprintf("record %d", i), Message: "the record has no remote id"})
			continue
		}
		sp, err := tx.Begin(ctx)
		if err != nil {
			return fmt.Errorf("syncengine: savepoint: %w", err)
		}
		var one source.Stats
		err = e.applyRecord(ctx, sp, src, links[r.RemoteID], r, &one)
		if err != nil {
			_ = sp.Rollback(ctx)
			if db.ErrorKind(err) == db.KindInternal {
				return err
			}
			st.Errors = append(st.Errors, source.RunError{Ref: r.RemoteID, Message: err.Error()})
			continue
		}
		if err := sp.Commit(ctx); err != nil {
			return fmt.Errorf("syncengine: release savepoint: %w", err)
		}
		one.Pulled = 0
		st.Add(one)
	}
	return nil
}

// cleaned validates a record's values as a created contact's would be, and returns them
// trimmed, by field name.
func cleaned(r *Record) (contact.Values, map[string]string, error) {
	var in contact.NewContact
	for name, v := range r.Values {
		f := contact.FieldByName(name)
		if f == nil {
			return contact.Values{}, nil, db.Invalid(name, "is not a contact field")
		}
		*f.Input(&in) = v
	}
	in.KeepUnparseablePhone = true
	if err := in.Validate(); err != nil {
		return contact.Values{}, nil, err
	}
	vals := in.Values()
	payload := map[string]string{}
	for _, f := range contact.Fields {
		if v := f.Get(&vals); v != nil {
			payload[f.Name] = *v
		}
	}
	return vals, payload, nil
}

// contentHash hashes what a record says: its values and whether it is deleted.
func contentHash(payload map[string]string, deleted bool) []byte {
	h := sha256.New()
	fmt.Fprintf(h, "deleted=%t\n", deleted)
	keys := make([]string, 0, len(payload))
	for k := range payload {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b, _ := json.Marshal([2]string{k, payload[k]})
		h.Write(b)
		h.Write([]byte{'\n'})
	}
	return h.Sum(nil)
}

func (e *Engine) applyRecord(ctx context.Context, tx pgx.Tx, src *source.Source, link *source.Link, r *Record, st *source.Stats) error {
	var vals contact.Values
	payload := map[string]string{}
	if !r.Deleted {
		var err error
		if vals, payload, err = cleaned(r); err != nil {
			return err
		}
	}
	hash := contentHash(payload, r.Deleted)
	if link != nil && bytes.Equal(link.ContentHash, hash) {
		return nil
	}
	next := &source.Link{SourceID: src.ID, RemoteID: r.RemoteID, ContentHash: hash, Payload: payload,
		ETag: contact.Nullable(r.ETag), RemoteUpdated: contact.Nullable(r.Updated), Deleted: r.Deleted}
	a := contact.NewAudit(ctx)
	switch {
	case r.Deleted && link == nil:
		return nil // never seen, nothing to archive
	case r.Deleted:
		next.ContactID, next.Decision, next.Payload = link.ContactID, link.Decision, link.Payload
		changed, err := contact.ArchiveTx(ctx, tx, link.ContactID, a)
		if err != nil {
			return err
		}
		if changed {
			st.Deleted++
		}
	case link != nil:
		next.ContactID, next.Decision = link.ContactID, link.Decision
		if err := e.update(ctx, tx, src, link, r, vals, next, st, a); err != nil {
			return err
		}
	default:
		if err := e.place(ctx, tx, src, r, vals, next, st, a); err != nil {
			return err
		}
	}
	return source.PutLinkTx(ctx, tx, next)
}

// syncNote is the audit change naming the record a sync change came from.
func syncNote(src *source.Source, r *Record) contact.Change {
	return contact.Change{After: map[string]any{"sourceId": src.ID.String(), "remoteId": r.RemoteID}}
}

// update applies a changed record to its linked contact: a field the remote changed since the
// last sync is taken unless the contact changed it too (a conflict, settled by the source's
// policy).
func (e *Engine) update(ctx context.Context, tx pgx.Tx, src *source.Source, link *source.Link, r *Record, vals contact.Values, next *source.Link, st *source.Stats, a *contact.Audit) error {
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
	remoteNewer := true
	if t, err := time.Parse(time.RFC3339Nano, r.Updated); err == nil {
		remoteNewer = t.After(c.UpdatedAt)
	}
	for _, f := range contact.Fields {
		base, remote := link.Payload[f.Name], next.Payload[f.Name]
		local := ""
		if v := f.Get(&c.Values); v != nil {
			local = *v
		}
		if remote == base || remote == local {
			continue
		}
		if local != base {
			st.Conflicts++
			take := src.ConflictPolicy == source.RemoteWins || (src.ConflictPolicy == source.NewestWins && remoteNewer)
			if !take {
				continue
			}
		}
		*f.Ptr(&c.Values) = f.Get(&vals)
	}
	return e.write(ctx, tx, src, r, c, &before, st, a, &st.Updated)
}

// write stores a contact's changed values with their audit entry and, when a matched field
// changed, its normalize job (which rekeys it and checks it for duplicates).
func (e *Engine) write(ctx context.Context, tx pgx.Tx, src *source.Source, r *Record, c, before *contact.Contact, st *source.Stats, a *contact.Audit, counter *int64) error {
	if c.FirstName == nil && c.LastName == nil && c.Email == nil && c.Phone == nil {
		return db.Invalid("firstName", "the change would leave the contact without a name, an email or a phone")
	}
	changes := c.Changes(before)
	if len(changes) == 0 {
		return nil
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
	if err := contact.WriteTx(ctx, tx, []*contact.Contact{c}, false); err != nil {
		return err
	}
	changes["sync"] = syncNote(src, r)
	a.Add("sync", "contact", c.ID, &c.ID, changes)
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
	By       string      `json:"by"` // created, email, match
	Score    float64     `json:"score,omitempty"`
	Possible []uuid.UUID `json:"possible,omitempty"` // likely matches not sure enough to link
}

// place finds the contact of a record seen for the first time: the active contact with its
// email, else the one the matcher is sure of (linked, its empty fields filled), else a new one.
func (e *Engine) place(ctx context.Context, tx pgx.Tx, src *source.Source, r *Record, vals contact.Values, next *source.Link, st *source.Stats, a *contact.Audit) error {
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
		for _, m := range matches {
			if m.Decision == matcher.Same && target == nil {
				id := m.ContactID
				target, d.By, d.Score = &id, "match", m.Probability
				continue
			}
			d.Possible = append(d.Possible, m.ContactID)
		}
	}
	if target != nil {
		b, _ := json.Marshal(d)
		next.ContactID, next.Decision = *target, b
		return e.link(ctx, tx, src, r, vals, *target, st, a)
	}
	d.By = "created"
	b, _ := json.Marshal(d)
	next.Decision = b
	id, err := e.create(ctx, tx, src, r, vals, a)
	if err != nil {
		return err
	}
	next.ContactID = id
	st.Created++
	return nil
}

// link ties a record to a contact we already have, filling the contact's empty fields.
func (e *Engine) link(ctx context.Context, tx pgx.Tx, src *source.Source, r *Record, vals contact.Values, id uuid.UUID, st *source.Stats, a *contact.Audit) error {
	cs, err := contact.LockTx(ctx, tx, []uuid.UUID{id})
	if err != nil {
		return err
	}
	c := cs[id]
	if c == nil || c.Status != contact.StatusActive {
		return db.Conflict("contact %s changed while it was matched", id)
	}
	before := *c
	for _, f := range contact.Fields {
		if f.Get(&c.Values) == nil {
			*f.Ptr(&c.Values) = f.Get(&vals)
		}
	}
	var filled int64
	if err := e.write(ctx, tx, src, r, c, &before, st, a, &filled); err != nil {
		return err
	}
	if filled == 0 {
		// Nothing to fill: the link itself is audited.
		a.Add("sync", "contact", id, &id, map[string]contact.Change{"sync": syncNote(src, r)})
		if err := a.Flush(ctx, tx); err != nil {
			return err
		}
	}
	st.Linked++
	return nil
}

// create stores a record as a new contact, audited and enqueued for normalization.
func (e *Engine) create(ctx context.Context, tx pgx.Tx, src *source.Source, r *Record, vals contact.Values, a *contact.Audit) (uuid.UUID, error) {
	c := &contact.Contact{ID: uuid.Must(uuid.NewV7()), Values: vals}
	c.Normalized.Email = contact.EmailKey(c.Email)
	if err := contact.CopyTx(ctx, tx, 1, func(_ int, out *contact.Contact) map[string]any {
		out.ID, out.Values, out.Normalized = c.ID, c.Values, c.Normalized
		return nil
	}); err != nil {
		return uuid.Nil, err
	}
	changes := c.Changes(nil)
	changes["sync"] = syncNote(src, r)
	a.Add("create", "contact", c.ID, &c.ID, changes)
	if err := a.Flush(ctx, tx); err != nil {
		return uuid.Nil, err
	}
	if _, err := e.Sources.DB().Jobs.InsertTx(ctx, tx, contact.NormalizeArgs{ContactID: c.ID}, nil); err != nil {
		return uuid.Nil, fmt.Errorf("syncengine: enqueue normalize: %w", err)
	}
	return c.ID, nil
}
