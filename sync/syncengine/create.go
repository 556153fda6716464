package syncengine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/dedupe"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/sync/source"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/riverqueue/river"
)

type dedupeMatch = dedupe.Match

// matchWorkers bounds the duplicate checks of a page run at once (each is a few reads on its
// own connection).
const matchWorkers = 4

// newContact is a contact a sync creates for a record.
type newContact struct {
	id       uuid.UUID
	remoteID string
	vals     contact.Values
	custom   contact.CustomValues
	state    source.State
}

// createPage writes the records new to the source in a handful of statements: each is
// validated (an invalid one is reported), looked up by email (all at once) and by the matcher
// (concurrently); those that are a person we already have, or share an email with an earlier
// record of the page, go the one-by-one way (linked); the others are created together with
// COPY, with their audit entries, alternates, tags, links and normalize jobs. Should the set
// write fail for a reason of one record's, every record goes the one-by-one way, so that the
// failure is reported against its record.
func (e *Engine) createPage(ctx context.Context, tx pgx.Tx, src *source.Source, recs []*Record, st *source.Stats) error {
	if len(recs) == 0 {
		return nil
	}
	type item struct {
		r      *Record
		vals   contact.Values
		custom contact.CustomValues
		state  source.State
		key    string
		d      decision
	}
	var items []*item
	var later []*Record // one by one, after the set write
	owner := map[string]bool{}
	var keys []string
	defs, err := definitionsFor(ctx, tx, recs)
	if err != nil {
		return err
	}
	for _, r := range recs {
		vals, custom, state, err := recordState(r, defs)
		if err != nil {
			st.Errors = append(st.Errors, source.RunError{Ref: r.RemoteID, Message: err.Error()})
			continue
		}
		it := &item{r: r, vals: vals, custom: custom, state: state}
		if vals.Email != nil {
			it.key = contact.AlternateKey("email", *vals.Email)
			if owner[it.key] {
				later = append(later, r) // the same person as an earlier record of the page
				continue
			}
			owner[it.key] = true
			keys = append(keys, it.key)
		}
		items = append(items, it)
	}
	known, err := contact.ActiveWithEmailsTx(ctx, tx, keys)
	if err != nil {
		return err
	}
	var unknown []*item
	for _, it := range items {
		if _, ok := known[it.key]; ok && it.key != "" {
			later = append(later, it.r)
			continue
		}
		unknown = append(unknown, it)
	}
	if unknown, err = withoutSuppressedItems(ctx, tx, e.Suppressor, e.DefaultRegion, unknown, func(it *item) contact.Values { return it.vals }, func(it *item) string { return it.r.RemoteID }, st); err != nil {
		return err
	}
	// The duplicate check reads committed contacts through the pool.
	cs := make([]*contact.Contact, len(unknown))
	for i, it := range unknown {
		cs[i] = &contact.Contact{Values: it.vals}
	}
	matches, err := e.checkRecords(ctx, cs)
	if err != nil {
		return err
	}
	var create []newContact
	var links []*source.Link
	for i, it := range unknown {
		if sure(matches[i], &it.d) != nil {
			later = append(later, it.r)
			continue
		}
		it.d.By = "created"
		id := uuid.Must(uuid.NewV7())
		create = append(create, newContact{id: id, remoteID: it.r.RemoteID, vals: it.vals, custom: it.custom, state: it.state})
		links = append(links, &source.Link{SourceID: src.ID, RemoteID: it.r.RemoteID, ContactID: id,
			ContentHash: stateHash(it.state, false), Payload: it.state, Raw: it.r.Raw, Decision: mustJSON(it.d),
			ETag: contact.Nullable(it.r.ETag), RemoteUpdated: contact.Nullable(it.r.Updated)})
	}
	// Unique custom values are claimed for the whole set at once, their locks taken in one
	// order; a record whose value another record of the page or an active contact has goes the
	// one-by-one way, which reports it.
	create, links, later, err = claimPage(ctx, tx, defs, create, links, later, func(c newContact) *Record { return recordOf(recs, c.remoteID) })
	if err != nil {
		return err
	}
	if len(create) > 0 {
		sp, err := tx.Begin(ctx)
		if err != nil {
			return fmt.Errorf("syncengine: savepoint: %w", err)
		}
		err = e.createMany(ctx, sp, src, create)
		if err == nil {
			err = source.CopyLinksTx(ctx, sp, links)
		}
		if err != nil {
			_ = sp.Rollback(ctx)
			if db.ErrorKind(err) == db.KindInternal && !dataError(err) {
				return err
			}
			// One record's fault: each goes alone, and the culprit is reported.
			for _, c := range create {
				later = append(later, recordOf(recs, c.remoteID))
			}
			create = nil
		} else if err := sp.Commit(ctx); err != nil {
			return fmt.Errorf("syncengine: release savepoint: %w", err)
		}
		st.Created += int64(len(create))
	}
	for _, r := range later {
		if err := e.applyOne(ctx, tx, src, nil, r, st); err != nil {
			return err
		}
	}
	return nil
}

// dataError says PostgreSQL refused the data (a constraint or a bad value), not the statement.
func dataError(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (strings.HasPrefix(pg.Code, "22") || strings.HasPrefix(pg.Code, "23"))
}

// BatchMatcher is a Matcher that checks many records at once (dedupe.Engine).
type BatchMatcher interface {
	CheckRecords(ctx context.Context, cs []*contact.Contact) ([][]dedupe.Match, error)
}

// checkRecords checks the records in one go when the matcher can, else a few at a time.
func (e *Engine) checkRecords(ctx context.Context, cs []*contact.Contact) ([][]dedupe.Match, error) {
	if bm, ok := e.Matcher.(BatchMatcher); ok {
		return bm.CheckRecords(ctx, cs)
	}
	out := make([][]dedupe.Match, len(cs))
	errs := make([]error, len(cs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, matchWorkers)
	for i, c := range cs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i], errs[i] = e.Matcher.CheckRecord(ctx, c)
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

func recordOf(recs []*Record, remoteID string) *Record {
	for _, r := range recs {
		if r.RemoteID == remoteID {
			return r
		}
	}
	return nil
}

// claimPage claims the unique custom values of the contacts a page creates (cs, each with its
// link) in one go (contact.ClaimCustomBatchTx): it returns those whose claims hold, with their
// links, and adds the records of the others to later (recordOf gives a contact's record): a
// value an earlier contact of the page claims, or an active contact has.
func claimPage(ctx context.Context, tx pgx.Tx, defs contact.Definitions, cs []newContact, links []*source.Link, later []*Record,
	recordOf func(newContact) *Record) ([]newContact, []*source.Link, []*Record, error) {
	sets := make([]contact.CustomClaimSet, len(cs))
	for i, c := range cs {
		sets[i] = contact.CustomClaimSet{ID: c.id, Owner: c.remoteID, Values: c.custom}
	}
	refused, err := contact.ClaimCustomBatchTx(ctx, tx, defs, sets)
	if err != nil {
		return nil, nil, nil, err
	}
	var keepC []newContact
	var keepL []*source.Link
	for i, c := range cs {
		if _, out := refused[i]; out {
			later = append(later, recordOf(c))
			continue
		}
		keepC, keepL = append(keepC, c), append(keepL, links[i])
	}
	return keepC, keepL, later, nil
}

// createMany inserts new contacts for records with COPY, with their audit entries, alternates,
// tags and normalize jobs. Their unique custom values must have been claimed (claimPage,
// contact.ClaimCustomTx).
func (e *Engine) createMany(ctx context.Context, tx pgx.Tx, src *source.Source, cs []newContact) error {
	err := contact.CopyTx(ctx, tx, len(cs), func(i int, out *contact.Contact) map[string]any {
		out.ID, out.Values, out.Custom = cs[i].id, cs[i].vals, cs[i].custom
		out.Normalized.Email = contact.EmailKey(cs[i].vals.Email)
		return nil
	})
	if err != nil {
		return err
	}
	err = contact.CopyAuditTx(ctx, tx, contact.ActorFrom(ctx), "create", len(cs), func(i int, buf []byte) (uuid.UUID, []byte) {
		c := &contact.Contact{ID: cs[i].id, Values: cs[i].vals, Custom: cs[i].custom}
		changes := c.Changes(nil)
		changes["sync"] = syncNote(src, cs[i].remoteID)
		for _, set := range sets[:2] {
			if vs := *set.get(&cs[i].state); len(vs) > 0 {
				changes[set.name] = contact.Change{After: vs}
			}
		}
		b, _ := json.Marshal(changes)
		return cs[i].id, append(buf, b...)
	})
	if err != nil {
		return err
	}
	emails, phones := map[uuid.UUID][]string{}, map[uuid.UUID][]string{}
	byTags := map[string][]uuid.UUID{}
	tagsOf := map[string][]string{}
	jobs := make([]river.InsertManyParams, len(cs))
	for i, c := range cs {
		if len(c.state.Emails) > 0 {
			emails[c.id] = c.state.Emails
		}
		if len(c.state.Phones) > 0 {
			phones[c.id] = c.state.Phones
		}
		if len(c.state.Tags) > 0 {
			k := strings.Join(c.state.Tags, "\x00")
			byTags[k], tagsOf[k] = append(byTags[k], c.id), c.state.Tags
		}
		jobs[i] = river.InsertManyParams{Args: contact.NormalizeArgs{ContactID: c.id}}
	}
	for kind, want := range map[string]map[uuid.UUID][]string{"email": emails, "phone": phones} {
		if _, _, err := contact.SetAlternatesTx(ctx, tx, kind, want); err != nil {
			return err
		}
	}
	a := contact.NewAudit(ctx)
	for _, k := range slices.Sorted(mapKeys(byTags)) {
		if err := e.Tags.AddManyTx(ctx, tx, a, byTags[k], tagsOf[k]); err != nil {
			return err
		}
	}
	if err := a.Flush(ctx, tx); err != nil {
		return err
	}
	if _, err := e.Sources.DB().Jobs.InsertManyFastTx(ctx, tx, jobs); err != nil {
		return fmt.Errorf("syncengine: enqueue normalize: %w", err)
	}
	return nil
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
