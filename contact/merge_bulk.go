package contact

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// mergeChunk is how many clusters MergeClusters merges in one transaction.
const mergeChunk = 500

// MergeClusters merges each request (each a cluster of distinct contacts; clusters must be
// disjoint) in chunks of one transaction each, set-based. It returns the merges made, and for
// each request that could not be merged (a contact no longer active, already merged, etc.) its
// error — a bad cluster never fails the others.
//
// Each merge is the one MergeContacts would make for its request, merging the requests one after
// another in order: the same merges row and snapshot (UndoMerge undoes it alike), survivor values,
// alternates, relationships, external references, audit entries, keys and reviews. It enqueues
// no duplicate check of the survivors, as MergeContacts does: its callers (a full scan, an
// import batch's check) have weighed every pair already or re-check what they could not, and a
// million-contact scan would leave ~200,000 checks behind. (A chunk whose transaction fails is
// merged one by one with mergeTx, which does enqueue them.) A request that shares a contact with an earlier one starts a new chunk, so that
// it sees the earlier merge as MergeContacts would.
func (s *Store) MergeClusters(ctx context.Context, reqs []MergeRequest) (merged []*Merge, failed map[int]error, err error) {
	failed = map[int]error{}
	var (
		chunk   []int
		chunkID [][]uuid.UUID
		seen    = map[uuid.UUID]bool{}
	)
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		ms, err := s.mergeChunk(ctx, reqs, chunk, chunkID, failed)
		merged = append(merged, ms...)
		chunk, chunkID = chunk[:0], chunkID[:0]
		clear(seen)
		return err
	}
	for i, req := range reqs {
		ids, err := req.validate()
		if err != nil {
			failed[i] = err
			continue
		}
		if len(chunk) >= mergeChunk || slices.ContainsFunc(ids, func(id uuid.UUID) bool { return seen[id] }) {
			if err := flush(); err != nil {
				return merged, failed, err
			}
		}
		chunk, chunkID = append(chunk, i), append(chunkID, ids)
		for _, id := range ids {
			seen[id] = true
		}
	}
	if err := flush(); err != nil {
		return merged, failed, err
	}
	return merged, failed, nil
}

// mergeChunk merges the requests reqs[idx[k]] (their distinct contacts ids[k]) in one
// transaction, recording the requests that cannot be merged in failed. When the transaction
// fails for a reason no check foresaw, it merges them one by one, so that one bad cluster
// fails alone.
func (s *Store) mergeChunk(ctx context.Context, reqs []MergeRequest, idx []int, ids [][]uuid.UUID, failed map[int]error) ([]*Merge, error) {
	var ms []*Merge
	var bad map[int]error
	err := s.retryTx(ctx, func(tx pgx.Tx) error {
		var err error
		ms, bad, err = s.mergeChunkTx(ctx, tx, reqs, idx, ids)
		return err
	})
	if err == nil {
		for k, e := range bad {
			failed[idx[k]] = e
		}
		return ms, nil
	}
	if ctx.Err() != nil {
		return nil, err
	}
	ms = ms[:0]
	for k, i := range idx {
		var m *Merge
		err := s.retryTx(ctx, func(tx pgx.Tx) error {
			var err error
			m, err = s.mergeTx(ctx, tx, reqs[i], ids[k])
			return err
		})
		if err != nil {
			if ctx.Err() != nil {
				return ms, err
			}
			failed[i] = err
			continue
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// bulkMerge is one merge of a chunk as it is being made.
type bulkMerge struct {
	m             *Merge
	contacts      map[uuid.UUID]*Contact
	survivor      *Contact
	after         *Contact
	all           []uuid.UUID
	changes       map[string]Change
	fieldValues   map[string]uuid.UUID
	rc            *relChanges
	related       bool
	alternates    []storedAlternate
	before        []byte // the snapshot of everything before the merge, without "after" and "changes"
	mergedLiteral string
	allLiteral    string
}

// mergeChunkTx makes the merges of a chunk with one statement per step for the whole chunk; only
// clusters with relationships take the per-cluster relationship code. It returns the merges and,
// by position in idx, the errors of the requests it could not merge.
func (s *Store) mergeChunkTx(ctx context.Context, tx pgx.Tx, reqs []MergeRequest, idx []int, ids [][]uuid.UUID) ([]*Merge, map[int]error, error) {
	failed := map[int]error{}
	var everyone []uuid.UUID
	for _, cid := range ids {
		everyone = append(everyone, cid...)
	}
	slices.SortFunc(everyone, compareUUID)
	contacts, err := lockContacts(ctx, tx, everyone)
	if err != nil {
		return nil, nil, err
	}
	versions, err := modelVersions(ctx, tx, reqs, idx)
	if err != nil {
		return nil, nil, err
	}

	actor := ActorFrom(ctx)
	var bms []*bulkMerge
	var all, merged []uuid.UUID // of the chunk, for the steps taken once
	for k, i := range idx {
		req := reqs[i]
		if err := checkMergeable(req, contacts); err != nil {
			failed[k] = err
			continue
		}
		if req.ModelVersion != nil && !versions[*req.ModelVersion] {
			failed[k] = fieldErrors{{Field: "modelVersion", Message: "no matcher model has this version"}}.err()
			continue
		}
		own := make(map[uuid.UUID]*Contact, len(ids[k]))
		for _, id := range ids[k] {
			own[id] = contacts[id]
		}
		survivor, clusterAll, clusterMerged := mergeParts(req, ids[k], own)
		fv := req.FieldValues
		if fv == nil {
			fv = map[string]uuid.UUID{}
		}
		after := survivorValues(survivor, own, req.FieldValues)
		bm := &bulkMerge{
			m: &Merge{
				ID: uuid.Must(uuid.NewV7()), SurvivorID: survivor.ID, MergedIDs: clusterMerged, Actor: actor,
				ModelVersion: req.ModelVersion, Score: req.Score, UndoReport: []string{},
			},
			contacts: own, survivor: survivor, after: after, all: clusterAll, changes: after.fieldChanges(survivor),
			fieldValues: fv, mergedLiteral: uuidArrayLiteral(clusterMerged), allLiteral: uuidArrayLiteral(clusterAll),
		}
		bms = append(bms, bm)
		all = append(all, clusterAll...)
		merged = append(merged, clusterMerged...)
	}
	if len(bms) == 0 {
		return nil, failed, nil
	}
	slices.SortFunc(all, compareUUID)
	slices.SortFunc(merged, compareUUID)
	if err := lockAccountsOf(ctx, tx, all, nil); err != nil {
		return nil, nil, err
	}
	if err := markRelated(ctx, tx, bms, all); err != nil {
		return nil, nil, err
	}
	if err := readSnapshots(ctx, tx, bms); err != nil {
		return nil, nil, err
	}
	if err := updateSurvivors(ctx, tx, bms); err != nil {
		return nil, nil, err
	}
	survivorOf := make([]uuid.UUID, 0, len(merged))
	mergedIDs := make([]uuid.UUID, 0, len(merged))
	for _, bm := range bms {
		for _, id := range bm.m.MergedIDs {
			mergedIDs, survivorOf = append(mergedIDs, id), append(survivorOf, bm.m.SurvivorID)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE contacts c SET status = 'merged', merged_into = u.s, version = c.version + 1,
		updated_at = now() FROM unnest($1::uuid[], $2::uuid[]) AS u(id, s) WHERE c.id = u.id`, mergedIDs, survivorOf); err != nil {
		return nil, nil, fmt.Errorf("contact: mark merged: %w", err)
	}
	if err := moveAlternatesBulk(ctx, tx, bms, merged); err != nil {
		return nil, nil, err
	}
	for _, bm := range bms {
		if !bm.related {
			bm.rc = &relChanges{PrimarySet: []uuid.UUID{}, RoleSet: []roleSet{}, Primaries: []primaryWas{}}
		} else if bm.rc, err = moveRelationships(ctx, tx, bm.m.SurvivorID, bm.all); err != nil {
			return nil, nil, err
		}
		bm.rc.Contacts, bm.rc.Survivor, bm.rc.Merged = bm.all, bm.m.SurvivorID, bm.m.MergedIDs
	}

	allMerge := make([]uuid.UUID, 0, len(all))
	allIDs := make([]uuid.UUID, 0, len(all))
	a := &audit{actor: actor}
	survivors := make([]uuid.UUID, len(bms))
	for n, bm := range bms {
		for _, id := range bm.all {
			allIDs, allMerge = append(allIDs, id), append(allMerge, bm.m.ID)
		}
		a.addMerge(bm.m, bm.changes)
		survivors[n] = bm.m.SurvivorID
	}
	// The merges go in last, once the survivors have their merged values: each snapshot is
	// written once, whole. The reviews below refer to them.
	if err := insertMerges(ctx, tx, bms, actor); err != nil {
		return nil, nil, err
	}
	b := &pgx.Batch{}
	b.Queue(`UPDATE external_refs r SET contact_id = u.s FROM unnest($1::uuid[], $2::uuid[]) AS u(id, s)
		WHERE r.contact_id = u.id`, mergedIDs, survivorOf)
	b.Queue(`DELETE FROM contact_keys WHERE contact_id = ANY($1)`, merged)
	b.Queue(`WITH m AS (SELECT * FROM unnest($2::uuid[], $3::uuid[]) AS m(cid, mid))
		UPDATE duplicate_reviews d SET status = 'merged', merge_id = a.mid, decided_at = now(), decided_by = $1
		FROM m a, m b WHERE d.status = 'open' AND d.contact_a = a.cid AND d.contact_b = b.cid
			AND a.mid = b.mid`,
		actor, allIDs, allMerge)
	b.Queue(`UPDATE duplicate_reviews SET status = 'obsolete', decided_at = now(), decided_by = $1
		WHERE status = 'open' AND (contact_a = ANY($2) OR contact_b = ANY($2))`, actor, merged)
	a.queue(b)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, nil, fmt.Errorf("contact: merge clusters: %w", err)
	}
	// The survivors' alternates changed: their blocking keys now.
	survivorRows, err := readContactsTx(ctx, tx, survivors)
	if err != nil {
		return nil, nil, err
	}
	if err := rekeyTx(ctx, tx, survivorRows); err != nil {
		return nil, nil, err
	}
	var normalize []river.InsertManyParams
	for _, bm := range bms {
		if needsNormalize(bm.after) {
			normalize = append(normalize, river.InsertManyParams{Args: NormalizeArgs{ContactID: bm.m.SurvivorID}})
		}
	}
	if len(normalize) > 0 {
		if _, err := s.jobs.InsertManyFastTx(ctx, tx, normalize); err != nil {
			return nil, nil, fmt.Errorf("contact: enqueue normalize: %w", err)
		}
	}
	out := make([]*Merge, len(bms))
	for n, bm := range bms {
		out[n] = bm.m
	}
	return out, failed, nil
}

// modelVersions reports which of the model versions the requests name exist.
func modelVersions(ctx context.Context, tx pgx.Tx, reqs []MergeRequest, idx []int) (map[int]bool, error) {
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
		return nil, fmt.Errorf("contact: read model versions: %w", err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return nil, fmt.Errorf("contact: read model versions: %w", err)
	}
	for _, v := range got {
		out[v] = true
	}
	return out, nil
}

// markRelated marks the merges whose contacts have a current relationship: only those take the
// per-cluster relationship code.
func markRelated(ctx context.Context, tx pgx.Tx, bms []*bulkMerge, all []uuid.UUID) error {
	rows, err := tx.Query(ctx, `SELECT contact_id FROM contact_accounts WHERE contact_id = ANY($1) AND removed_at IS NULL
		UNION SELECT contact_id FROM contact_users WHERE contact_id = ANY($1) AND removed_at IS NULL`, all)
	if err != nil {
		return fmt.Errorf("contact: read relationships: %w", err)
	}
	related, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return fmt.Errorf("contact: read relationships: %w", err)
	}
	if len(related) == 0 {
		return nil
	}
	for _, bm := range bms {
		bm.related = slices.ContainsFunc(related, func(id uuid.UUID) bool { return bm.contacts[id] != nil })
	}
	return nil
}

// readSnapshots reads, for every merge of the chunk, the snapshot MergeContacts takes before it
// changes anything. A review between contacts of two merges belongs to the snapshot of the
// first that merges one of its contacts away: merged one after another, that one would mark it
// and the later not see it.
func readSnapshots(ctx context.Context, tx pgx.Tx, bms []*bulkMerge) error {
	n := len(bms)
	merged, all := make([]string, n), make([]string, n)
	for k, bm := range bms {
		merged[k], all[k] = bm.mergedLiteral, bm.allLiteral
	}
	rows, err := tx.Query(ctx, `
		WITH v AS (
			SELECT merged::uuid[] AS merged, all_ids::uuid[] AS all_ids, ord
			FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(merged, all_ids, ord)),
		mm AS (SELECT unnest(merged) AS cid, ord FROM v)
		SELECT jsonb_build_object(
			'contacts', (SELECT jsonb_agg(to_jsonb(c) ORDER BY c.id) FROM contacts c WHERE c.id = ANY(v.all_ids)),
			'contactUsers', (SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.id), '[]') FROM contact_users r WHERE r.contact_id = ANY(v.all_ids)),
			'contactAccounts', (SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.id), '[]') FROM contact_accounts r WHERE r.contact_id = ANY(v.all_ids)),
			'externalRefs', (SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.source, r.external_id), '[]') FROM external_refs r WHERE r.contact_id = ANY(v.all_ids)),
			'alternates', (SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.contact_id, r.kind, r.value), '[]') FROM contact_alternates r WHERE r.contact_id = ANY(v.all_ids)),
			'keys', (SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.contact_id, r.key), '[]') FROM contact_keys r WHERE r.contact_id = ANY(v.all_ids)),
			'reviews', (SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.id), '[]') FROM duplicate_reviews r
				WHERE r.status = 'open' AND (r.contact_a = ANY(v.merged) OR r.contact_b = ANY(v.merged))
				AND NOT EXISTS (SELECT 1 FROM mm WHERE mm.cid IN (r.contact_a, r.contact_b) AND mm.ord < v.ord)))
		FROM v ORDER BY v.ord`, merged, all)
	if err != nil {
		return fmt.Errorf("contact: read merge snapshots: %w", err)
	}
	k := 0
	for rows.Next() {
		if k >= n {
			rows.Close()
			return fmt.Errorf("contact: read merge snapshots: more rows than merges")
		}
		if err := rows.Scan(&bms[k].before); err != nil {
			rows.Close()
			return fmt.Errorf("contact: read merge snapshots: %w", err)
		}
		k++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("contact: read merge snapshots: %w", err)
	}
	if k != n {
		return fmt.Errorf("contact: read merge snapshots: %d rows for %d merges", k, n)
	}
	return nil
}

// insertMerges stores the chunk's merges, each with its snapshot: what readSnapshots read, the
// survivor as it is now and the relationship changes, as MergeContacts stores it.
func insertMerges(ctx context.Context, tx pgx.Tx, bms []*bulkMerge, actor string) error {
	n := len(bms)
	ids, survivors := make([]uuid.UUID, n), make([]uuid.UUID, n)
	merged := make([]string, n)
	versions, scores := make([]*int, n), make([]*float64, n)
	fieldValues := make([]map[string]uuid.UUID, n)
	before := make([]json.RawMessage, n)
	changes := make([]*relChanges, n)
	for k, bm := range bms {
		ids[k], survivors[k], merged[k] = bm.m.ID, bm.m.SurvivorID, bm.mergedLiteral
		versions[k], scores[k], fieldValues[k] = bm.m.ModelVersion, bm.m.Score, bm.fieldValues
		before[k], changes[k] = bm.before, bm.rc
	}
	rows, err := tx.Query(ctx, `
		INSERT INTO merges (id, survivor_id, merged_ids, actor, model_version, score, field_values, snapshot)
		SELECT u.id, u.survivor_id, u.merged::uuid[], $4, u.model_version, u.score, u.field_values,
			u.before || jsonb_build_object('after', to_jsonb(c), 'changes', u.changes)
		FROM unnest($1::uuid[], $2::uuid[], $3::text[], $5::int[], $6::float8[], $7::jsonb[], $8::jsonb[], $9::jsonb[])
			WITH ORDINALITY AS u(id, survivor_id, merged, model_version, score, field_values, before, changes, ord)
		JOIN contacts c ON c.id = u.survivor_id
		ORDER BY u.ord
		RETURNING id, created_at`,
		ids, survivors, merged, actor, versions, scores, fieldValues, before, changes)
	if err != nil {
		return fmt.Errorf("contact: store merges: %w", err)
	}
	byID := make(map[uuid.UUID]*Merge, n)
	for _, bm := range bms {
		byID[bm.m.ID] = bm.m
	}
	got := 0
	for rows.Next() {
		var id uuid.UUID
		var m Merge
		if err := rows.Scan(&id, &m.CreatedAt); err != nil {
			rows.Close()
			return fmt.Errorf("contact: store merges: %w", err)
		}
		byID[id].CreatedAt = m.CreatedAt
		got++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("contact: store merges: %w", err)
	}
	if got != n {
		return fmt.Errorf("contact: store merges: %d stored for %d merges", got, n)
	}
	return nil
}

// updateSurvivors gives every survivor of the chunk its merged values.
func updateSurvivors(ctx context.Context, tx pgx.Tx, bms []*bulkMerge) error {
	n := len(bms)
	ids := make([]uuid.UUID, n)
	var first, last, email, phone, title, company, emailNorm, e164, ext = make([]*string, n), make([]*string, n),
		make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n),
		make([]*string, n), make([]*string, n)
	valid := make([]*bool, n)
	prefs := make([]Preferences, n)
	for k, bm := range bms {
		a := bm.after
		ids[k], first[k], last[k], email[k], phone[k], title[k], company[k] = a.ID, a.FirstName, a.LastName, a.Email, a.Phone, a.Title, a.Company
		prefs[k], emailNorm[k], e164[k], ext[k], valid[k] = a.Preferences, a.Normalized.Email, a.Normalized.Phone, a.Normalized.PhoneExtension, a.Normalized.PhoneValid
	}
	_, err := tx.Exec(ctx, `
		UPDATE contacts c SET first_name = u.first_name, last_name = u.last_name, email = u.email, phone = u.phone,
			title = u.title, company = u.company, preferences = u.preferences, email_normalized = u.email_normalized,
			phone_e164 = u.phone_e164, phone_extension = u.phone_extension, phone_valid = u.phone_valid,
			version = c.version + 1, updated_at = now()
		FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::jsonb[],
			$9::text[], $10::text[], $11::text[], $12::bool[])
			AS u(id, first_name, last_name, email, phone, title, company, preferences, email_normalized, phone_e164, phone_extension, phone_valid)
		WHERE c.id = u.id`,
		ids, first, last, email, phone, title, company, prefs, emailNorm, e164, ext, valid)
	if err != nil {
		return fmt.Errorf("contact: update survivors: %w", err)
	}
	return nil
}

// moveAlternatesBulk moves the alternates of every merge of the chunk at once, as mergeTx
// moves one merge's.
func moveAlternatesBulk(ctx context.Context, tx pgx.Tx, bms []*bulkMerge, merged []uuid.UUID) error {
	alts, err := readAlternates(ctx, tx, merged)
	if err != nil {
		return err
	}
	owner := make(map[uuid.UUID]*bulkMerge, len(merged))
	for _, bm := range bms {
		for _, id := range bm.m.MergedIDs {
			owner[id] = bm
		}
	}
	for _, a := range alts {
		bm := owner[a.ContactID]
		bm.alternates = append(bm.alternates, a)
	}
	var rows alternateRows
	for _, bm := range bms {
		rows.add(bm.m.ID, bm.after, bm.contacts, bm.alternates)
	}
	b := &pgx.Batch{}
	rows.queue(b, merged)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("contact: move alternates: %w", err)
	}
	return nil
}

// uuidArrayLiteral writes ids as a PostgreSQL array literal, for arrays of arrays passed as text.
func uuidArrayLiteral(ids []uuid.UUID) string {
	var sb strings.Builder
	sb.WriteByte('{')
	for i, id := range ids {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(id.String())
	}
	sb.WriteByte('}')
	return sb.String()
}
