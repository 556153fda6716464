package merge

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// reservedSnapshotKeys are the snapshot's own keys, which no concern may take.
var reservedSnapshotKeys = map[string]bool{"contacts": true, "alternates": true, "after": true,
	"state": true, "changes": true, "auditIds": true}

// pending is one merge of a chunk as it is being made.
type pending struct {
	m           *Merge
	contacts    map[uuid.UUID]*contact.Contact
	survivor    *contact.Contact
	after       *contact.Contact
	all         []uuid.UUID
	changes     map[string]contact.Change
	fieldValues map[string]uuid.UUID
	alternates  []contact.StoredAlternate
	// survivorAlts are the alternates the survivor carries after the merge.
	survivorAlts []contact.Alternate
	// before is the snapshot of everything before the merge, without "after" and "state".
	before json.RawMessage
	state  map[string]json.RawMessage
}

// mergeChunkTx makes the merges reqs[idx[k]] (their distinct contacts ids[k]) with one statement
// per step for the whole chunk, each concern taking its step for all of them at once. It
// returns the merges and, by position in idx, the errors of the requests it could not merge.
// followUp asks for the survivors' duplicate checks.
func (s *Store) mergeChunkTx(ctx context.Context, tx pgx.Tx, reqs []Request, idx []int, ids [][]uuid.UUID, followUp bool) ([]*Merge, map[int]error, error) {
	failed := map[int]error{}
	var everyone []uuid.UUID
	for _, cid := range ids {
		everyone = append(everyone, cid...)
	}
	slices.SortFunc(everyone, db.CompareUUID)
	contacts, err := contact.LockTx(ctx, tx, everyone)
	if err != nil {
		return nil, nil, err
	}
	versions, err := modelVersions(ctx, tx, reqs, idx)
	if err != nil {
		return nil, nil, err
	}

	actor := contact.ActorFrom(ctx)
	ps, all, merged := plan(reqs, idx, ids, contacts, versions, actor, failed)
	if len(ps) == 0 {
		return nil, failed, nil
	}
	for _, o := range s.owned {
		if l, ok := o.(contact.Locker); ok {
			if err := l.LockTx(ctx, tx, all); err != nil {
				return nil, nil, err
			}
		}
	}
	if err := s.readSnapshots(ctx, tx, ps); err != nil {
		return nil, nil, err
	}

	// The contacts: survivors take their merged values, the others point at them.
	afters := make([]*contact.Contact, len(ps))
	var mergedIDs, survivorOf []uuid.UUID
	for n, p := range ps {
		afters[n] = p.after
		for _, id := range p.m.MergedIDs {
			mergedIDs, survivorOf = append(mergedIDs, id), append(survivorOf, p.m.SurvivorID)
		}
	}
	if err := contact.WriteTx(ctx, tx, afters, false); err != nil {
		return nil, nil, err
	}
	if err := contact.MarkMergedTx(ctx, tx, mergedIDs, survivorOf); err != nil {
		return nil, nil, err
	}
	if err := moveAlternates(ctx, tx, ps, all, merged); err != nil {
		return nil, nil, err
	}

	// Every concern's rows.
	sets := make([]*contact.MergeSet, len(ps))
	for n, p := range ps {
		sets[n] = &contact.MergeSet{MergeID: p.m.ID, SurvivorID: p.m.SurvivorID, Merged: p.m.MergedIDs, All: p.all,
			Contacts: p.contacts, Survivor: p.after, SurvivorAlternates: p.survivorAlts, FollowUp: followUp, Actor: actor}
	}
	for _, o := range s.owned {
		states, err := o.MergeTx(ctx, tx, sets)
		if err != nil {
			return nil, nil, err
		}
		for n, st := range states {
			if len(st) > 0 {
				ps[n].state[o.Name()] = st
			}
		}
	}

	// The merges go in last, once the survivors have their merged values and the concerns
	// their state: each snapshot is written once, whole.
	a := contact.NewAudit(ctx)
	for _, p := range ps {
		addMergeAudit(a, p.m, p.changes)
	}
	if err := insertMerges(ctx, tx, ps, actor, a); err != nil {
		return nil, nil, err
	}
	// A survivor that took a phone its contact had not normalized yet (a merge right after a
	// create) gets its forms (and a check) from the normalize job.
	var normalize []river.InsertManyParams
	for _, p := range ps {
		if needsNormalize(p.after) {
			normalize = append(normalize, river.InsertManyParams{Args: contact.NormalizeArgs{ContactID: p.m.SurvivorID}})
		}
	}
	if len(normalize) > 0 {
		if _, err := s.db.Jobs.InsertManyTx(ctx, tx, normalize); err != nil {
			return nil, nil, fmt.Errorf("merge: enqueue normalize: %w", err)
		}
	}
	out := make([]*Merge, len(ps))
	for n, p := range ps {
		out[n] = p.m
	}
	return out, failed, nil
}

// plan checks each request against the locked contacts (recording in failed, by position in
// idx, the ones that cannot be merged) and computes the merges of the others: survivor, values,
// changes. It returns them with every contact of the chunk and the merged ones, sorted by id.
func plan(reqs []Request, idx []int, ids [][]uuid.UUID, contacts map[uuid.UUID]*contact.Contact, versions map[int]bool,
	actor string, failed map[int]error) (ps []*pending, all, merged []uuid.UUID) {
	for k, i := range idx {
		req := reqs[i]
		if err := checkMergeable(req, contacts); err != nil {
			failed[k] = err
			continue
		}
		if req.ModelVersion != nil && !versions[*req.ModelVersion] {
			failed[k] = db.Invalid("modelVersion", "no matcher model has this version")
			continue
		}
		own := make(map[uuid.UUID]*contact.Contact, len(ids[k]))
		for _, id := range ids[k] {
			own[id] = contacts[id]
		}
		survivor, clusterAll, clusterMerged := mergeParts(req, ids[k], own)
		fv := req.FieldValues
		if fv == nil {
			fv = map[string]uuid.UUID{}
		}
		after := survivorValues(survivor, own, req.FieldValues)
		ps = append(ps, &pending{
			m: &Merge{
				ID: uuid.Must(uuid.NewV7()), SurvivorID: survivor.ID, MergedIDs: clusterMerged, Actor: actor,
				ModelVersion: req.ModelVersion, Score: req.Score, UndoReport: []string{},
			},
			contacts: own, survivor: survivor, after: after, all: clusterAll, changes: after.Changes(survivor),
			fieldValues: fv, state: map[string]json.RawMessage{},
		})
		all = append(all, clusterAll...)
		merged = append(merged, clusterMerged...)
	}
	slices.SortFunc(all, db.CompareUUID)
	slices.SortFunc(merged, db.CompareUUID)
	return ps, all, merged
}

// needsNormalize reports whether a survivor's phone lacks its normalized forms, which a merge
// cannot compute (it takes the phone's forms from the contact it came from; only the normalize
// job knows the default region).
func needsNormalize(c *contact.Contact) bool { return c.Phone != nil && c.Normalized.Phone == nil }

// checkMergeable names every contact of the request that is missing, merged or archived.
func checkMergeable(req Request, contacts map[uuid.UUID]*contact.Contact) error {
	var errs db.FieldErrors
	check := func(field string, id uuid.UUID) {
		c := contacts[id]
		switch {
		case c == nil:
			errs.Add(field, "no contact has this id")
		case c.Status == contact.StatusMerged:
			errs.Add(field, "contact %s has already been merged into another contact", id)
		case c.Status != contact.StatusActive:
			errs.Add(field, "contact %s is %s; only active contacts can be merged", id, c.Status)
		}
	}
	for i, id := range req.ContactIDs {
		check(fmt.Sprintf("contactIds[%d]", i), id)
	}
	if req.SurvivorID != nil {
		check("survivorId", *req.SurvivorID)
	}
	return errs.Err()
}

// mergeParts picks the survivor of a checked merge (the named one, else the oldest) and returns
// it with every contact of the merge and the merged ones, each sorted by id.
func mergeParts(req Request, ids []uuid.UUID, contacts map[uuid.UUID]*contact.Contact) (survivor *contact.Contact, all, merged []uuid.UUID) {
	if req.SurvivorID != nil {
		survivor = contacts[*req.SurvivorID]
	} else {
		for _, c := range contacts {
			if survivor == nil || c.CreatedAt.Before(survivor.CreatedAt) ||
				(c.CreatedAt.Equal(survivor.CreatedAt) && c.ID.String() < survivor.ID.String()) {
				survivor = c
			}
		}
	}
	all = make([]uuid.UUID, 0, len(contacts))
	merged = make([]uuid.UUID, 0, len(contacts)-1)
	for _, id := range ids {
		all = append(all, id)
		if id != survivor.ID {
			merged = append(merged, id)
		}
	}
	slices.SortFunc(all, db.CompareUUID)
	slices.SortFunc(merged, db.CompareUUID)
	return survivor, all, merged
}

// addMergeAudit records a merge: the survivor's changes (changes, which it extends) and each
// merged contact's new status.
func addMergeAudit(a *contact.Audit, m *Merge, changes map[string]contact.Change) {
	changes["mergeId"] = contact.Change{After: m.ID.String()}
	changes["mergedIds"] = contact.Change{After: m.MergedIDs}
	a.Add("merge", "contact", m.SurvivorID, &m.SurvivorID, changes)
	for _, id := range m.MergedIDs {
		a.Add("merge", "contact", id, &id, map[string]contact.Change{
			"mergeId":    {After: m.ID.String()},
			"status":     {Before: string(contact.StatusActive), After: string(contact.StatusMerged)},
			"mergedInto": {Before: nil, After: m.SurvivorID.String()},
		})
	}
}

// modelVersions reports which of the model versions the requests name exist.
func modelVersions(ctx context.Context, tx pgx.Tx, reqs []Request, idx []int) (map[int]bool, error) {
	var want []int
	for _, i := range idx {
		if v := reqs[i].ModelVersion; v != nil && !slices.Contains(want, *v) {
			want = append(want, *v)
		}
	}
	out := map[int]bool{}
	if len(want) == 0 {
		return out, nil
	}
	rows, err := tx.Query(ctx, `SELECT version FROM matcher_models WHERE version = ANY($1)`, want)
	if err != nil {
		return nil, fmt.Errorf("merge: read model versions: %w", err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return nil, fmt.Errorf("merge: read model versions: %w", err)
	}
	for _, v := range got {
		out[v] = true
	}
	return out, nil
}

// buildSnapshotSQL returns the query that reads, for each merge of a chunk ($1: its merged contacts, $2: all its contacts,
// as array literals), its contacts and alternates and every concern's rows.
func (s *Store) buildSnapshotSQL() string {
	v := contact.SnapshotVars{All: "v.all_ids", Merged: "v.merged", EarlierMerged: func(col string) string {
		return "EXISTS (SELECT 1 FROM mm WHERE mm.cid = " + col + " AND mm.ord < v.ord)"
	}}
	parts := []string{
		`'contacts', (SELECT jsonb_agg(to_jsonb(c) ORDER BY c.id) FROM contacts c WHERE c.id = ANY(v.all_ids))`,
		`'alternates', (SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.contact_id, r.kind, r.value), '[]') FROM contact_alternates r WHERE r.contact_id = ANY(v.all_ids))`,
	}
	for _, o := range s.owned {
		parts = append(parts, fmt.Sprintf("'%s', %s", o.Name(), o.SnapshotSQL(v)))
	}
	return `
		WITH v AS (
			SELECT merged::uuid[] AS merged, all_ids::uuid[] AS all_ids, ord
			FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(merged, all_ids, ord)),
		mm AS (SELECT unnest(merged) AS cid, ord FROM v)
		SELECT jsonb_build_object(` + strings.Join(parts, ",\n\t\t\t") + `)
		FROM v ORDER BY v.ord`
}

// readSnapshots reads, for every merge of the chunk, its snapshot before anything changes. A
// concern's rows shared by two merges of the chunk belong to the snapshot of the first that
// merges one of their contacts away: merged one after another, that one would change them and
// the later not see them.
func (s *Store) readSnapshots(ctx context.Context, tx pgx.Tx, ps []*pending) error {
	n := len(ps)
	merged, all := make([]string, n), make([]string, n)
	for k, p := range ps {
		merged[k], all[k] = db.UUIDArrayLiteral(p.m.MergedIDs), db.UUIDArrayLiteral(p.all)
	}
	rows, err := tx.Query(ctx, s.snapshotSQL, merged, all)
	if err != nil {
		return fmt.Errorf("merge: read snapshots: %w", err)
	}
	defer rows.Close()
	k := 0
	for rows.Next() {
		if k >= n {
			return fmt.Errorf("merge: read snapshots: more rows than merges")
		}
		if err := rows.Scan(&ps[k].before); err != nil {
			return fmt.Errorf("merge: read snapshots: %w", err)
		}
		k++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("merge: read snapshots: %w", err)
	}
	if k != n {
		return fmt.Errorf("merge: read snapshots: %d rows for %d merges", k, n)
	}
	return nil
}

// insertMerges stores the chunk's merges, each with its snapshot: what readSnapshots read, the
// survivor as it is now and the concerns' state, and their audit entries a, in one round trip.
// A merge is dated by the clock once its contacts are locked, not by its transaction's start:
// consent events are dated under the same locks, so a consent given while the merge waited for
// them counts as given before it.
func insertMerges(ctx context.Context, tx pgx.Tx, ps []*pending, actor string, a *contact.Audit) error {
	n := len(ps)
	ids, survivors := make([]uuid.UUID, n), make([]uuid.UUID, n)
	merged := make([]string, n)
	versions, scores := make([]*int, n), make([]*float64, n)
	fieldValues := make([]map[string]uuid.UUID, n)
	before := make([]json.RawMessage, n)
	states := make([]map[string]json.RawMessage, n)
	for k, p := range ps {
		ids[k], survivors[k], merged[k] = p.m.ID, p.m.SurvivorID, db.UUIDArrayLiteral(p.m.MergedIDs)
		versions[k], scores[k], fieldValues[k] = p.m.ModelVersion, p.m.Score, p.fieldValues
		before[k], states[k] = p.before, p.state
	}
	byID := make(map[uuid.UUID]*Merge, n)
	for _, p := range ps {
		byID[p.m.ID] = p.m
	}
	got := 0
	b := &pgx.Batch{}
	b.Queue(`
		INSERT INTO merges (id, survivor_id, merged_ids, actor, model_version, score, field_values, snapshot, created_at)
		SELECT u.id, u.survivor_id, u.merged::uuid[], $4, u.model_version, u.score, u.field_values,
			u.before || jsonb_build_object('after', to_jsonb(c), 'state', u.state), clock_timestamp()
		FROM unnest($1::uuid[], $2::uuid[], $3::text[], $5::int[], $6::float8[], $7::jsonb[], $8::jsonb[], $9::jsonb[])
			WITH ORDINALITY AS u(id, survivor_id, merged, model_version, score, field_values, before, state, ord)
		JOIN contacts c ON c.id = u.survivor_id
		ORDER BY u.ord
		RETURNING id, created_at`,
		ids, survivors, merged, actor, versions, scores, fieldValues, before, states,
	).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var id uuid.UUID
			var m Merge
			if err := rows.Scan(&id, &m.CreatedAt); err != nil {
				return err
			}
			byID[id].CreatedAt = m.CreatedAt
			got++
		}
		return rows.Err()
	})
	a.Queue(b)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("merge: store merges: %w", err)
	}
	if got != n {
		return fmt.Errorf("merge: store merges: %d stored for %d merges", got, n)
	}
	return nil
}

// moveAlternates gives each survivor of the chunk every email and phone of its merge's other
// contacts (and their own alternates) as alternates, and removes the merged contacts'. It reads
// the alternates of every contact of the chunk (all) once, so each merge also knows every
// alternate its survivor carries after it.
func moveAlternates(ctx context.Context, tx pgx.Tx, ps []*pending, all, merged []uuid.UUID) error {
	alts, err := contact.ReadAlternatesTx(ctx, tx, all)
	if err != nil {
		return err
	}
	owner := make(map[uuid.UUID]*pending, len(all))
	for _, p := range ps {
		for _, id := range p.all {
			owner[id] = p
		}
	}
	for _, a := range alts {
		p := owner[a.ContactID]
		if a.ContactID == p.m.SurvivorID {
			p.survivorAlts = append(p.survivorAlts, contact.Alternate{Kind: a.Kind, Value: a.Value, Normalized: a.Normalized})
		} else {
			p.alternates = append(p.alternates, a)
		}
	}
	var rows contact.AlternateRows
	for _, p := range ps {
		p.survivorAlts = append(p.survivorAlts, rows.Add(p.m.ID, p.after, p.contacts, p.alternates)...)
	}
	b := &pgx.Batch{}
	rows.Queue(b, merged)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("merge: move alternates: %w", err)
	}
	return nil
}
