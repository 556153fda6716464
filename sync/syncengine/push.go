package syncengine

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/sync/source"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// pushBatch is how many records one Connector.Write carries.
const pushBatch = 100

// pushConfig is what the engine reads of a source's config for pushing.
type pushConfig struct {
	// PushNew creates the contacts the source has no record of remotely.
	PushNew bool `json:"pushNew"`
}

// A push writes remotely, for direction push or both:
//   - the record of every linked contact that changed since its last sync (found by the
//     contact's updated_at and audit entries later than the link's synced_at, then compared
//     with the last synced state, so that what a pull wrote is not echoed back), with If-Match
//     the link's ETag;
//   - a delete for every linked contact archived here, erased (tombstones) or, with
//     propagateMerges, merged away;
//   - a create for every active contact the source has no record of, with config.pushNew, and
//     for a contact whose record a merge or an archive deleted and that is back (an undo).
//
// A record that changed remotely since (a conflict) is fetched and merged three ways with the
// source's conflict policy, as a pull would, and written again once. What was written is
// stored as the link's state with the ETag the remote answered, so that the next pull does not
// re-import it.

// pending is one record to write, with what it is written from.
type pending struct {
	w      Write
	link   *source.Link // nil for a create
	reason source.PushReason
	state  source.State
	cid    uuid.UUID
}

func (e *Engine) push(ctx context.Context, conn Connector, src *source.Source) (source.Stats, error) {
	var total source.Stats
	var cfg pushConfig
	_ = json.Unmarshal(src.Config, &cfg)
	if err := e.pushTombstones(ctx, conn, src, &total); err != nil {
		return total, err
	}
	scan, err := e.Sources.BeginPush(ctx, src.ID)
	if err != nil {
		return total, err
	}
	after := ""
	for {
		cands, err := e.Sources.PushCandidates(ctx, src.ID, src.PropagateMerges, scan, after, pushBatch)
		if err != nil {
			return total, err
		}
		if len(cands) == 0 {
			break
		}
		after = cands[len(cands)-1].Link.RemoteID
		if err := e.pushLinks(ctx, conn, src, cands, &total); err != nil {
			return total, err
		}
	}
	// The changes up to scan.Next are written or settled unless a record failed (it stays a
	// candidate: the watermark stays).
	if len(total.Errors) == 0 {
		if err := e.Sources.AdvancePush(ctx, src.ID, scan.Next); err != nil {
			return total, err
		}
	}
	if !cfg.PushNew {
		return total, nil
	}
	var last uuid.UUID
	for {
		ids, err := e.Sources.Unlinked(ctx, src.ID, last, pushBatch)
		if err != nil {
			return total, err
		}
		if len(ids) == 0 {
			return total, nil
		}
		last = ids[len(ids)-1]
		var ps []*pending
		readAt, states, err := e.readStates(ctx, ids, nil)
		if err != nil {
			return total, err
		}
		for _, id := range ids {
			if s, ok := states[id]; ok {
				ps = append(ps, newPending(id, s))
			}
		}
		if err := e.write1(ctx, conn, src, ps, readAt, &total); err != nil {
			return total, err
		}
	}
}

func newPending(id uuid.UUID, s source.State) *pending {
	return &pending{cid: id, state: s, reason: source.PushRecreate,
		w: Write{Key: id.String(), Values: s.Values, Emails: s.Emails, Phones: s.Phones, Tags: s.Tags}}
}

// carriesAll is the projection of a record that carries every set (a created one).
var carriesAll = source.State{Emails: []string{}, Phones: []string{}, Tags: []string{}}

// readStates reads active contacts' states (projected on carries[id], or carriesAll), and when
// it read them.
func (e *Engine) readStates(ctx context.Context, ids []uuid.UUID, carries map[uuid.UUID]source.State) (time.Time, map[uuid.UUID]source.State, error) {
	var at time.Time
	out := map[uuid.UUID]source.State{}
	err := e.Sources.DB().InTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&at); err != nil {
			return fmt.Errorf("syncengine: read time: %w", err)
		}
		cs, err := contact.ReadTx(ctx, tx, ids)
		if err != nil {
			return err
		}
		var active []*contact.Contact
		proj := map[uuid.UUID]source.State{}
		for _, c := range cs {
			if c.Status == contact.StatusActive {
				active = append(active, c)
				proj[c.ID] = carriesAll
				if p, ok := carries[c.ID]; ok {
					proj[c.ID] = p
				}
			}
		}
		out, err = e.localStates(ctx, tx, active, proj)
		return err
	})
	return at, out, err
}

// pushLinks writes the records of candidate links that need it.
func (e *Engine) pushLinks(ctx context.Context, conn Connector, src *source.Source, cands []source.PushCandidate, st *source.Stats) error {
	var ids []uuid.UUID
	carries := map[uuid.UUID]source.State{}
	for _, c := range cands {
		if c.Reason == source.PushUpdate {
			ids = append(ids, c.Link.ContactID)
			carries[c.Link.ContactID] = c.Link.Payload
		} else if c.Reason == source.PushRecreate {
			ids = append(ids, c.Link.ContactID)
		}
	}
	readAt, states, err := e.readStates(ctx, ids, carries)
	if err != nil {
		return err
	}
	var ps []*pending
	var inStep []string
	for _, c := range cands {
		l := c.Link
		switch c.Reason {
		case source.PushUpdate:
			s, ok := states[l.ContactID]
			if !ok {
				continue // no longer active: the next run deletes it
			}
			if string(stateHash(s, false)) == string(l.ContentHash) {
				inStep = append(inStep, l.RemoteID)
				continue
			}
			ps = append(ps, &pending{link: l, reason: c.Reason, state: s, cid: l.ContactID,
				w: Write{RemoteID: l.RemoteID, IfMatch: deref(l.ETag), Values: s.Values, Emails: s.Emails, Phones: s.Phones, Tags: s.Tags, Raw: l.Raw}})
		case source.PushRecreate:
			s, ok := states[l.ContactID]
			if !ok {
				continue
			}
			p := newPending(l.ContactID, s)
			p.link = l
			ps = append(ps, p)
		case source.PushDelete, source.PushMerged:
			ps = append(ps, &pending{link: l, reason: c.Reason, cid: l.ContactID,
				w: Write{RemoteID: l.RemoteID, IfMatch: deref(l.ETag), Delete: true, Raw: l.Raw}})
		}
	}
	if len(inStep) > 0 {
		if err := e.Sources.DB().InTx(ctx, func(tx pgx.Tx) error {
			return source.MarkSyncedTx(ctx, tx, src.ID, inStep, readAt)
		}); err != nil {
			return err
		}
	}
	return e.write1(ctx, conn, src, ps, readAt, st)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// write1 writes records remotely and records what was written; a conflict is fetched, merged
// and written again once.
func (e *Engine) write1(ctx context.Context, conn Connector, src *source.Source, ps []*pending, readAt time.Time, st *source.Stats) error {
	if len(ps) == 0 {
		return nil
	}
	ws := make([]Write, len(ps))
	for i, p := range ps {
		ws[i] = p.w
	}
	res, err := conn.Write(ctx, ws)
	st.Requests += int64(len(ws))
	if err != nil {
		return err
	}
	if len(res) != len(ws) {
		return fmt.Errorf("the connector answered %d of %d writes", len(res), len(ws))
	}
	var conflicts []*pending
	err = e.Sources.DB().RetryTx(ctx, func(tx pgx.Tx) error {
		conflicts = conflicts[:0]
		if err := refresh(ctx, tx, src, ps); err != nil {
			return err
		}
		var one source.Stats
		var links []*source.Link
		a := contact.NewAudit(ctx)
		for i, p := range ps {
			r := res[i]
			switch {
			case r.Err != nil:
				one.Errors = append(one.Errors, source.RunError{Ref: ref(p), Message: r.Err.Error()})
			case r.Conflict && p.link != nil && p.w.RemoteID != "":
				conflicts = append(conflicts, p)
			case r.Conflict && p.w.RemoteID == "" && r.RemoteID != "":
				// The record at the contact's key: its own earlier create (a crash lost the link).
				adopt := *p
				adopt.w.RemoteID = r.RemoteID
				conflicts = append(conflicts, &adopt)
			case r.Conflict:
				one.Errors = append(one.Errors, source.RunError{Ref: ref(p), Message: "a record with this key exists remotely already, and the source did not say where"})
			default:
				l, err := e.written(ctx, tx, src, p, r, readAt, a)
				if err != nil {
					return err
				}
				links = append(links, l)
				one.Pushed++
			}
		}
		if err := a.Flush(ctx, tx); err != nil {
			return err
		}
		if err := source.PutLinksTx(ctx, tx, links); err != nil {
			return err
		}
		*st = addInto(*st, one)
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range conflicts {
		var err error
		if p.link == nil {
			err = e.adopt(ctx, conn, src, p, readAt, st)
		} else {
			err = e.resolve(ctx, conn, src, p, st)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// adopt settles a create refused because a record exists at the contact's key: contactd made
// it (the key is the contact's id) and lost its link to a crash, or a push-only source never
// pulls it. The record is linked to the contact and the contact written over it with If-Match,
// once; a record that is gone meanwhile is created by the next run, and one linked to another
// contact is reported.
func (e *Engine) adopt(ctx context.Context, conn Connector, src *source.Source, p *pending, readAt time.Time, st *source.Stats) error {
	rec, err := fetchOne(ctx, conn, p.w.RemoteID, st)
	if err != nil || rec == nil {
		return err
	}
	var taken *source.Link
	err = e.Sources.DB().InTx(ctx, func(tx pgx.Tx) error {
		links, err := source.LinksTx(ctx, tx, src.ID, []string{rec.RemoteID})
		taken = links[rec.RemoteID]
		return err
	})
	if err != nil {
		return err
	}
	if taken != nil {
		if taken.ContactID != p.cid {
			st.Errors = append(st.Errors, source.RunError{Ref: ref(p), Message: fmt.Sprintf("the record at this contact's key, %s, is linked to contact %s", rec.RemoteID, taken.ContactID)})
		}
		return nil
	}
	adopted := *p
	adopted.reason = source.PushUpdate
	adopted.link = &source.Link{SourceID: src.ID, RemoteID: rec.RemoteID, ContactID: p.cid, Raw: rec.Raw, Decision: mustJSON(decision{By: "pushed"})}
	adopted.w = Write{RemoteID: rec.RemoteID, IfMatch: rec.ETag, Values: p.state.Values, Emails: p.state.Emails, Phones: p.state.Phones,
		Tags: p.state.Tags, Raw: rec.Raw}
	return e.writeOnce(ctx, conn, src, &adopted, readAt, st)
}

// refresh locks the links written and takes their contact from the database: a merge may have
// moved them to a survivor since they were read.
func refresh(ctx context.Context, tx pgx.Tx, src *source.Source, ps []*pending) error {
	var ids []string
	for _, p := range ps {
		if p.link != nil {
			ids = append(ids, p.link.RemoteID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids)
	now, err := source.LinksTx(ctx, tx, src.ID, ids)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if p.link == nil {
			continue
		}
		if l := now[p.link.RemoteID]; l != nil {
			cp := *p.link
			cp.ContactID, cp.MergedFrom = l.ContactID, l.MergedFrom
			p.link = &cp
		}
	}
	return nil
}

func addInto(a, b source.Stats) source.Stats {
	a.Add(b)
	return a
}

func ref(p *pending) string {
	if p.w.RemoteID != "" {
		return p.w.RemoteID
	}
	return "contact " + p.cid.String()
}

// written is the link after a successful write; a create's sync note is added to a.
func (e *Engine) written(ctx context.Context, tx pgx.Tx, src *source.Source, p *pending, r WriteResult, readAt time.Time, a *contact.Audit) (*source.Link, error) {
	if p.w.Delete {
		by := source.DeletedLocally
		if p.reason == source.PushMerged {
			by = source.DeletedByMerge
		}
		l := *p.link
		l.Deleted, l.DeletedBy, l.ArchivedContact, l.MergedFrom = true, &by, false, nil
		l.ContentHash = stateHash(source.State{Values: map[string]string{}}, true)
		l.SyncedAt = time.Time{}
		if p.reason == source.PushMerged {
			// The link stays with the survivor, remembering the merged contact (an undo moves it
			// back, and the restored contact's record is created again).
			l.MergedFrom = p.link.MergedFrom
		}
		return &l, nil
	}
	if p.w.RemoteID == "" {
		if p.link != nil {
			if err := source.DeleteLinkTx(ctx, tx, src.ID, p.link.RemoteID); err != nil {
				return nil, err
			}
		}
		a.Add("sync", "contact", p.cid, &p.cid, map[string]contact.Change{"sync": syncNote(src, r.RemoteID)})
		return &source.Link{SourceID: src.ID, RemoteID: r.RemoteID, ContactID: p.cid, ETag: contact.Nullable(r.ETag),
			ContentHash: stateHash(p.state, false), Payload: p.state, Decision: mustJSON(decision{By: "pushed"}), SyncedAt: readAt}, nil
	}
	l := *p.link
	l.ETag, l.ContentHash, l.Payload, l.SyncedAt = contact.Nullable(r.ETag), stateHash(p.state, false), p.state, readAt
	return &l, nil
}

// resolve settles a write refused because the record changed remotely: the record is fetched
// and merged three ways (the pull's path, with the source's conflict policy: each decision is
// recorded on the run and in the contact's audit), then the merged contact is written again
// once, with the new ETag. A delete refused so is retried with the new ETag (the local delete
// is the newer intent).
func (e *Engine) resolve(ctx context.Context, conn Connector, src *source.Source, p *pending, st *source.Stats) error {
	rec, err := fetchOne(ctx, conn, p.w.RemoteID, st)
	if err != nil || rec == nil {
		// nil: gone remotely meanwhile, the next pull archives it.
		return err
	}
	if p.w.Delete {
		retry := *p
		retry.w.IfMatch = rec.ETag
		return e.writeOnce(ctx, conn, src, &retry, time.Time{}, st)
	}
	var l *source.Link
	err = e.Sources.DB().RetryTx(ctx, func(tx pgx.Tx) error {
		links, err := source.LinksTx(ctx, tx, src.ID, []string{rec.RemoteID})
		if err != nil {
			return err
		}
		var one source.Stats
		if err := e.applyOne(ctx, tx, src, links[rec.RemoteID], rec, &one); err != nil {
			return err
		}
		if links, err = source.LinksTx(ctx, tx, src.ID, []string{rec.RemoteID}); err != nil {
			return err
		}
		l = links[rec.RemoteID]
		*st = addInto(*st, one)
		return nil
	})
	if err != nil || l == nil || l.Deleted {
		return err
	}
	readAt, states, err := e.readStates(ctx, []uuid.UUID{l.ContactID}, map[uuid.UUID]source.State{l.ContactID: l.Payload})
	if err != nil {
		return err
	}
	s, ok := states[l.ContactID]
	if !ok || string(stateHash(s, false)) == string(l.ContentHash) {
		return nil // the remote's version is what the contact now says
	}
	retry := &pending{link: l, reason: source.PushUpdate, state: s, cid: l.ContactID,
		w: Write{RemoteID: l.RemoteID, IfMatch: deref(l.ETag), Values: s.Values, Emails: s.Emails, Phones: s.Phones, Tags: s.Tags, Raw: l.Raw}}
	return e.writeOnce(ctx, conn, src, retry, readAt, st)
}

// writeOnce writes one record with no further retry: a second conflict is reported.
func (e *Engine) writeOnce(ctx context.Context, conn Connector, src *source.Source, p *pending, readAt time.Time, st *source.Stats) error {
	res, err := conn.Write(ctx, []Write{p.w})
	st.Requests++
	if err != nil {
		return err
	}
	if len(res) != 1 {
		return fmt.Errorf("the connector answered %d of 1 writes", len(res))
	}
	switch {
	case res[0].Err != nil:
		st.Errors = append(st.Errors, source.RunError{Ref: ref(p), Message: res[0].Err.Error()})
		return nil
	case res[0].Conflict:
		st.Errors = append(st.Errors, source.RunError{Ref: ref(p), Message: "changed remotely again while merging; written at the next run"})
		return nil
	}
	return e.Sources.DB().RetryTx(ctx, func(tx pgx.Tx) error {
		if err := refresh(ctx, tx, src, []*pending{p}); err != nil {
			return err
		}
		a := contact.NewAudit(ctx)
		l, err := e.written(ctx, tx, src, p, res[0], readAt, a)
		if err != nil {
			return err
		}
		if err := a.Flush(ctx, tx); err != nil {
			return err
		}
		if err := source.PutLinkTx(ctx, tx, l); err != nil {
			return err
		}
		st.Pushed++
		return nil
	})
}

// pushTombstones deletes remotely the records of erased contacts.
func (e *Engine) pushTombstones(ctx context.Context, conn Connector, src *source.Source, st *source.Stats) error {
	for {
		var ts []source.Tombstone
		if err := e.Sources.DB().InTx(ctx, func(tx pgx.Tx) error {
			var err error
			ts, err = source.TombstonesTx(ctx, tx, src.ID, pushBatch)
			return err
		}); err != nil {
			return err
		}
		if len(ts) == 0 {
			return nil
		}
		ws := make([]Write, len(ts))
		for i, t := range ts {
			ws[i] = Write{RemoteID: t.RemoteID, IfMatch: deref(t.ETag), Delete: true}
		}
		res, err := conn.Write(ctx, ws)
		st.Requests += int64(len(ws))
		if err != nil {
			return err
		}
		var done []string
		for i, r := range res {
			// An erased person's record goes whatever changed in it since.
			if r.Conflict {
				r = e.deleteAnyway(ctx, conn, ts[i].RemoteID, st)
			}
			if r.Err != nil {
				st.Errors = append(st.Errors, source.RunError{Ref: ts[i].RemoteID, Message: r.Err.Error()})
				continue
			}
			done = append(done, ts[i].RemoteID)
			st.Pushed++
		}
		if err := e.Sources.DB().InTx(ctx, func(tx pgx.Tx) error { return source.DropTombstonesTx(ctx, tx, src.ID, done) }); err != nil {
			return err
		}
		if len(done) < len(ts) {
			return nil // the failed ones are tried again by the next run
		}
	}
}

func (e *Engine) deleteAnyway(ctx context.Context, conn Connector, remoteID string, st *source.Stats) WriteResult {
	recs, n, err := conn.Fetch(ctx, []string{remoteID})
	st.Requests += int64(n)
	if err != nil {
		return WriteResult{Err: err}
	}
	if len(recs) == 0 || recs[0].Deleted {
		return WriteResult{RemoteID: remoteID}
	}
	res, err := conn.Write(ctx, []Write{{RemoteID: remoteID, IfMatch: recs[0].ETag, Delete: true}})
	st.Requests++
	if err != nil {
		return WriteResult{Err: err}
	}
	if len(res) != 1 || res[0].Conflict {
		return WriteResult{Err: fmt.Errorf("changed remotely again; deleted at the next run")}
	}
	return res[0]
}

// fetchOne fetches one record, counting the requests; nil when it is gone or deleted.
func fetchOne(ctx context.Context, conn Connector, remoteID string, st *source.Stats) (*Record, error) {
	recs, n, err := conn.Fetch(ctx, []string{remoteID})
	st.Requests += int64(n)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 || recs[0].Deleted {
		return nil, nil
	}
	return &recs[0], nil
}
