package importer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/dedupe"
	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// analyzeAfterRows is how many contacts an import creates or changes before it refreshes the
// planner's statistics when it finishes.
const analyzeAfterRows = 10000

// ImportBatchResult says what a committed batch did.
type ImportBatchResult struct {
	Created, Updated, Skipped, Failed int64
	// Cancelled means the import was asked to stop: nothing of this batch was written and the
	// import is now cancelled.
	Cancelled bool
	// ContactIDs are the contacts the batch created or changed.
	ContactIDs []uuid.UUID

	created []uuid.UUID // in id order
	updated []uuid.UUID
}

// CommitImportBatch writes one batch set-based — new contacts, their external references and
// audit entries by COPY, changes to known ones per the import's mode by one UPDATE — together
// with the row errors and the import's progress, in one transaction. It fails with
// ErrImportMoved unless the import's progress is at batch.FirstRow, so a batch is never
// written twice, even by two runners.
func (s *Store) CommitImportBatch(ctx context.Context, id uuid.UUID, batch *ImportBatch) (ImportBatchResult, error) {
	var res ImportBatchResult
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		res = ImportBatchResult{}
		var nextRow int64
		var cancel bool
		var source string
		var mode ImportMode
		err := tx.QueryRow(ctx, `SELECT next_row, cancel_requested, source, mode FROM imports WHERE id = $1 AND status = 'running' FOR UPDATE`, id).
			Scan(&nextRow, &cancel, &source, &mode)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrImportMoved
		}
		if err != nil {
			return fmt.Errorf("importer: lock import: %w", err)
		}
		if nextRow != batch.FirstRow {
			return ErrImportMoved
		}
		if cancel {
			res.Cancelled = true
			_, err := tx.Exec(ctx, `UPDATE imports SET status = 'cancelled', finished_at = now() WHERE id = $1`, id)
			return err
		}
		w := importWriter{tx: tx, importID: id, source: source, mode: mode, actor: contact.ActorFrom(ctx), suppressed: s.suppressed,
			tagger: s.tagger}
		if err := w.write(ctx, batch, &res); err != nil {
			return err
		}
		if err := w.enqueueDedupe(ctx, s, &res); err != nil {
			return err
		}
		unmapped := batch.UnmappedColumns
		_, err = tx.Exec(ctx, `UPDATE imports SET next_row = $2, created_count = created_count + $3,
			updated_count = updated_count + $4, skipped_count = skipped_count + $5, failed_count = failed_count + $6,
			unmapped_columns = CASE WHEN $7::text[] IS NULL THEN unmapped_columns ELSE $7 END, heartbeat_at = now()
			WHERE id = $1`, id, batch.NextRow, res.Created, res.Updated, res.Skipped, res.Failed, unmapped)
		if err != nil {
			return fmt.Errorf("importer: record import progress: %w", err)
		}
		return nil
	})
	return res, err
}

// enqueueDedupe enqueues the batch's duplicate check in the batch's transaction.
func (w *importWriter) enqueueDedupe(ctx context.Context, s *Store, res *ImportBatchResult) error {
	if len(res.ContactIDs) == 0 {
		return nil
	}
	args := dedupe.BatchArgs{Updated: res.updated}
	if len(res.created) > 0 {
		args.From, args.To = res.created[0], res.created[len(res.created)-1]
	}
	if _, err := s.db.Jobs.InsertTx(ctx, w.tx, args, nil); err != nil {
		return fmt.Errorf("importer: enqueue batch dedupe: %w", err)
	}
	return nil
}

type importWriter struct {
	tx       pgx.Tx
	importID uuid.UUID
	source   string
	mode     ImportMode
	actor    string
	// suppressed, when set, refuses new contacts of suppressed people.
	suppressed contact.Suppressor
	tagger     Tagger
}

func (w *importWriter) write(ctx context.Context, batch *ImportBatch, res *ImportBatchResult) error {
	// Which external ids are known already?
	ids := make([]string, 0, len(batch.Rows))
	for i := range batch.Rows {
		ids = append(ids, batch.Rows[i].ExternalID)
	}
	known := map[string]uuid.UUID{}
	rows, err := w.tx.Query(ctx, `SELECT external_id, contact_id FROM external_refs WHERE source = $1 AND external_id = ANY($2)`, w.source, ids)
	if err != nil {
		return fmt.Errorf("importer: look up external ids: %w", err)
	}
	for rows.Next() {
		var ext string
		var cid uuid.UUID
		if err := rows.Scan(&ext, &cid); err != nil {
			rows.Close()
			return err
		}
		known[ext] = cid
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("importer: look up external ids: %w", err)
	}
	if err := w.resolveCustom(ctx, batch, known); err != nil {
		return err
	}

	// New contacts, in file order; a record repeating an external id of this batch updates the
	// contact its first occurrence made, like one already stored.
	var fresh []*ImportRow
	freshByExt := map[string]*ImportRow{}
	updates := map[uuid.UUID][]*ImportRow{}
	var updateOrder []uuid.UUID
	newIDs := map[*ImportRow]uuid.UUID{}
	for i := range batch.Rows {
		r := &batch.Rows[i]
		if cid, ok := known[r.ExternalID]; ok {
			if w.mode == ImportSkip {
				res.Skipped++
				continue
			}
			if _, seen := updates[cid]; !seen {
				updateOrder = append(updateOrder, cid)
			}
			updates[cid] = append(updates[cid], r)
			continue
		}
		if first, ok := freshByExt[r.ExternalID]; ok {
			if w.mode == ImportSkip {
				res.Skipped++
			} else {
				first.merge(r, w.mode)
				res.Updated++
			}
			continue
		}
		freshByExt[r.ExternalID] = r
		fresh = append(fresh, r)
		newIDs[r] = uuid.Must(uuid.NewV7())
	}
	fresh, err = w.withoutSuppressed(ctx, batch, fresh)
	if err != nil {
		return err
	}
	if err := w.insertFresh(ctx, fresh, newIDs); err != nil {
		return err
	}
	res.Created += int64(len(fresh))
	for _, r := range fresh {
		res.ContactIDs = append(res.ContactIDs, newIDs[r])
		res.created = append(res.created, newIDs[r])
	}
	changed, skipped, err := w.applyUpdates(ctx, updateOrder, updates)
	if err != nil {
		return err
	}
	res.Updated += int64(len(changed))
	res.Skipped += skipped
	res.ContactIDs = append(res.ContactIDs, changed...)
	res.updated = changed

	owner := map[*ImportRow]uuid.UUID{}
	for _, r := range fresh {
		owner[r] = newIDs[r]
	}
	for cid, recs := range updates {
		for _, r := range recs {
			owner[r] = cid
		}
	}
	if err := w.attachOtherRefs(ctx, batch.Rows, owner); err != nil {
		return err
	}
	if err := w.addTags(ctx, batch.Rows, owner); err != nil {
		return err
	}

	failedRecords := map[int64]bool{}
	for _, e := range batch.Errors {
		failedRecords[e.Index] = true
	}
	res.Failed = int64(len(failedRecords))
	seq := map[int64]int{}
	_, err = w.tx.CopyFrom(ctx, pgx.Identifier{"import_errors"},
		[]string{"import_id", "row_index", "seq", "line", "field", "message"},
		pgx.CopyFromSlice(len(batch.Errors), func(i int) ([]any, error) {
			e := batch.Errors[i]
			seq[e.Index]++
			return []any{w.importID, e.Index, seq[e.Index], e.Line, contact.Nullable(e.Field), e.Message}, nil
		}))
	if err != nil {
		return fmt.Errorf("importer: record row errors: %w", err)
	}
	return nil
}

// withoutSuppressed returns the fresh rows whose person is not on the suppression list, in one
// query for the batch, and records the others as row errors (reason "suppressed"): an import
// never re-creates an erased person or one who withdrew everything.
func (w *importWriter) withoutSuppressed(ctx context.Context, batch *ImportBatch, fresh []*ImportRow) ([]*ImportRow, error) {
	if w.suppressed == nil || len(fresh) == 0 {
		return fresh, nil
	}
	vs := make([]contact.Values, len(fresh))
	for i, r := range fresh {
		vs[i] = contact.Values{Email: r.Email, Phone: r.Phone}
		if r.Normalized.Phone != nil {
			vs[i].Phone = r.Normalized.Phone
		}
	}
	hit, err := w.suppressed.SuppressedTx(ctx, w.tx, vs, "ZZ")
	if err != nil {
		return nil, err
	}
	kept := fresh[:0:0]
	for i, r := range fresh {
		if hit[i] {
			batch.Errors = append(batch.Errors, ImportRowError{Index: r.Index, Line: r.Line, Message: contact.SuppressedMessage})
			continue
		}
		kept = append(kept, r)
	}
	return kept, nil
}

// attachOtherRefs attaches the records' further external references to their contacts, except
// the ones some contact already has (a reference names one contact).
func (w *importWriter) attachOtherRefs(ctx context.Context, rows []ImportRow, owner map[*ImportRow]uuid.UUID) error {
	var sources, ids []string
	var contacts []uuid.UUID
	seen := map[ExternalRef]bool{}
	for i := range rows {
		cid, ok := owner[&rows[i]]
		if !ok {
			continue
		}
		for _, ref := range rows[i].OtherRefs {
			if seen[ref] || (ref.Source == w.source && ref.ID == rows[i].ExternalID) {
				continue
			}
			seen[ref] = true
			sources, ids, contacts = append(sources, ref.Source), append(ids, ref.ID), append(contacts, cid)
		}
	}
	if len(sources) == 0 {
		return nil
	}
	_, err := w.tx.Exec(ctx, `INSERT INTO external_refs (source, external_id, contact_id, import_id)
		SELECT s, e, c, $4 FROM unnest($1::text[], $2::text[], $3::uuid[]) AS u(s, e, c)
		ON CONFLICT (source, external_id) DO NOTHING`, sources, ids, contacts, w.importID)
	if err != nil {
		return fmt.Errorf("importer: attach external references: %w", err)
	}
	return nil
}

// merge folds a later record with the same external id into r, per the mode.
func (r *ImportRow) merge(later *ImportRow, mode ImportMode) {
	for _, f := range contact.Fields {
		dst, src := f.Ptr(&r.Values), f.Get(&later.Values)
		if src != nil && (*dst == nil || mode == ImportOverwrite) {
			*dst = src
		}
	}
	if r.Email == later.Email {
		r.Normalized.Email = later.Normalized.Email
	}
	for k, v := range later.CustomValues {
		if _, has := r.CustomValues[k]; !has || mode == ImportOverwrite {
			if r.CustomValues == nil {
				r.CustomValues = contact.CustomValues{}
			}
			r.CustomValues[k] = v
		}
	}
	r.Tags = append(r.Tags, later.Tags...)
	if r.Phone == later.Phone {
		r.Normalized.Phone, r.Normalized.PhoneExtension, r.Normalized.PhoneValid = later.Normalized.Phone, later.Normalized.PhoneExtension, later.Normalized.PhoneValid
	}
}

func (w *importWriter) insertFresh(ctx context.Context, fresh []*ImportRow, ids map[*ImportRow]uuid.UUID) error {
	if len(fresh) == 0 {
		return nil
	}
	err := contact.CopyTx(ctx, w.tx, len(fresh), func(i int, c *contact.Contact) map[string]any {
		r := fresh[i]
		c.ID, c.Values, c.Normalized, c.Custom = ids[r], r.Values, r.Normalized, r.CustomValues
		return r.Extra
	})
	if err != nil {
		return err
	}
	now := time.Now()
	_, err = w.tx.CopyFrom(ctx, pgx.Identifier{"external_refs"},
		[]string{"source", "external_id", "contact_id", "import_id", "created_at"},
		pgx.CopyFromSlice(len(fresh), func(i int) ([]any, error) {
			return []any{w.source, fresh[i].ExternalID, ids[fresh[i]], w.importID, now}, nil
		}))
	if err != nil {
		return fmt.Errorf("importer: copy external references: %w", err)
	}
	return contact.CopyAuditTx(ctx, w.tx, w.actor, "import", len(fresh), func(i int, buf []byte) (uuid.UUID, []byte) {
		r := fresh[i]
		return ids[r], r.auditJSON(buf, w.source, w.importID)
	})
}

// auditJSON renders the created fields as audit changes, appending to buf.
func (r *ImportRow) auditJSON(buf []byte, source string, importID uuid.UUID) []byte {
	buf = append(buf, `{"import":{"before":null,"after":`...)
	buf = appendJSON(buf, map[string]any{"id": importID.String(), "source": source, "externalId": r.ExternalID, "line": r.Line})
	buf = append(buf, '}')
	for _, f := range contact.Fields {
		v := f.Get(&r.Values)
		if v == nil {
			continue
		}
		buf = append(buf, `,"`...)
		buf = append(buf, f.Name...)
		buf = append(buf, `":{"before":null,"after":`...)
		buf = appendJSON(buf, *v)
		buf = append(buf, '}')
	}
	for _, k := range slices.Sorted(maps.Keys(r.CustomValues)) {
		buf = append(buf, ',')
		buf = appendJSON(buf, contact.CustomPrefix+k)
		buf = append(buf, `:{"before":null,"after":`...)
		buf = appendJSON(buf, r.CustomValues[k])
		buf = append(buf, '}')
	}
	return append(buf, '}')
}

// appendJSON appends v as JSON. v is made of strings and numbers only, which json.Marshal
// always encodes; an error would be a bug here, not bad input.
func appendJSON(buf []byte, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("importer: JSON of %T: %v", v, err))
	}
	return append(buf, b...)
}

// applyUpdates applies known records to their contacts per the mode: it locks the contacts in
// id order, computes each change in Go, writes them with one UPDATE and audits them.
func (w *importWriter) applyUpdates(ctx context.Context, order []uuid.UUID, updates map[uuid.UUID][]*ImportRow) ([]uuid.UUID, int64, error) {
	if len(order) == 0 {
		return nil, 0, nil
	}
	current, err := contact.LockTx(ctx, w.tx, order)
	if err != nil {
		return nil, 0, err
	}
	a := contact.NewAudit(ctx)
	var changedIDs []uuid.UUID
	var skipped int64
	var upd []*contact.Contact
	for _, id := range slices.SortedFunc(slices.Values(order), db.CompareUUID) {
		c, recs := current[id], updates[id]
		if c == nil || c.Status == contact.StatusMerged {
			skipped += int64(len(recs))
			continue
		}
		before := *c
		for _, r := range recs {
			applyImport(c, r, w.mode)
			applyCustom(c, r, w.mode)
		}
		changes := c.Changes(&before)
		if len(changes) == 0 {
			skipped += int64(len(recs))
			continue
		}
		changes["import"] = contact.Change{After: map[string]any{"id": w.importID.String(), "source": w.source, "externalId": recs[0].ExternalID, "line": recs[len(recs)-1].Line}}
		// An import's change to a known contact is an update (a contact.updated event) naming the import.
		a.Add("update", "contact", c.ID, &c.ID, changes)
		upd = append(upd, c)
		changedIDs = append(changedIDs, c.ID)
		skipped += int64(len(recs) - 1)
	}
	if len(upd) == 0 {
		return nil, skipped, nil
	}
	if err := contact.WriteTx(ctx, w.tx, upd, true); err != nil {
		return nil, 0, err
	}
	if err := a.Flush(ctx, w.tx); err != nil {
		return nil, 0, err
	}
	return changedIDs, skipped, nil
}

// applyImport applies one record to a stored contact: fill sets empty fields, overwrite
// replaces fields the record has. The normalized forms follow the email and phone.
func applyImport(c *contact.Contact, r *ImportRow, mode ImportMode) {
	for _, f := range contact.Fields {
		dst, v := f.Ptr(&c.Values), f.Get(&r.Values)
		if v == nil || (*dst != nil && mode == ImportFill) || (*dst != nil && **dst == *v) {
			continue
		}
		*dst = v
		switch f.Kind {
		case contact.KindEmail:
			c.Normalized.Email = r.Normalized.Email
		case contact.KindPhone:
			c.Normalized.Phone, c.Normalized.PhoneExtension, c.Normalized.PhoneValid = r.Normalized.Phone, r.Normalized.PhoneExtension, r.Normalized.PhoneValid
		}
	}
}
