package importer

import (
	"context"
	"errors"
	"maps"
	"slices"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Tagger gives contacts tags in an import's transaction; package tag implements it.
type Tagger interface {
	// AddByContactTx gives each contact the tags (cleaned) it lacks, auditing each contact it
	// changes in a.
	AddByContactTx(ctx context.Context, tx pgx.Tx, a *contact.Audit, tags map[uuid.UUID][]string) error
}

// SetTagger sets where imports' tags go. Call it once, before the store is used; without it a
// record's tags fail the record.
func (s *Store) SetTagger(t Tagger) { s.tagger = t }

// customOf moves a record's values for custom fields out of its extra data: the columns (or
// NDJSON customFields keys) that name a field by key or label. What names no field stays in
// the extra data (a customFields key under "customFields.<key>").
func (r *ImportRow) customOf(defs contact.Definitions) contact.CustomInput {
	in := contact.CustomInput{}
	var fields map[string]string
	if r.Extra != nil {
		fields, _ = r.Extra["fields"].(map[string]string)
	}
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		if d := defs.Match(name); d != nil {
			if _, dup := in[d.Key]; !dup {
				in[d.Key] = fields[name]
				delete(fields, name)
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(r.Custom)) {
		if d := defs.Match(k); d != nil {
			in[d.Key] = r.Custom[k]
			continue
		}
		if fields == nil {
			fields = map[string]string{}
			if r.Extra == nil {
				r.Extra = map[string]any{}
			}
			r.Extra["fields"] = fields
		}
		fields[contact.CustomPrefix+k] = r.Custom[k]
	}
	if r.Extra != nil && fields != nil && len(fields) == 0 {
		delete(r.Extra, "fields")
		if len(r.Extra) == 0 {
			r.Extra = nil
		}
	}
	return in
}

// resolveCustom validates the batch's custom values against the definitions (read under their
// shared lock) and claims the unique ones, all of the batch's at once (ClaimCustomBatchTx); a
// record that fails becomes a row error and is not written. known are the contacts the batch's
// external ids already refer to.
func (w *importWriter) resolveCustom(ctx context.Context, batch *ImportBatch, known map[string]uuid.UUID) error {
	defs, err := contact.DefinitionsTx(ctx, w.tx)
	if err != nil {
		return err
	}
	if len(defs) == 0 {
		return nil
	}
	errs := make([]db.FieldErrors, len(batch.Rows))
	vals := make([]contact.CustomValues, len(batch.Rows))
	var sets []contact.CustomClaimSet
	var setRow []int // the row of each set
	for i := range batch.Rows {
		r := &batch.Rows[i]
		id, isKnown := known[r.ExternalID]
		if isKnown && w.mode == ImportSkip {
			continue
		}
		vals[i], errs[i] = defs.Apply(nil, r.customOf(defs), !isKnown)
		if len(errs[i]) == 0 {
			sets, setRow = append(sets, contact.CustomClaimSet{ID: id, Owner: r.ExternalID, Values: vals[i]}), append(setRow, i)
		}
	}
	refused, err := contact.ClaimCustomBatchTx(ctx, w.tx, defs, sets)
	if err != nil {
		return err
	}
	for si, fe := range refused {
		errs[setRow[si]] = append(errs[setRow[si]], fe...)
	}
	kept := batch.Rows[:0]
	for i := range batch.Rows {
		r := batch.Rows[i]
		if len(errs[i]) > 0 {
			for _, e := range errs[i] {
				batch.Errors = append(batch.Errors, ImportRowError{Index: r.Index, Line: r.Line, Field: e.Field, Message: e.Message})
			}
			continue
		}
		if len(vals[i]) > 0 {
			r.CustomValues = vals[i]
		}
		kept = append(kept, r)
	}
	batch.Rows = kept
	return nil
}

// addTags gives the contacts written the records' tags.
func (w *importWriter) addTags(ctx context.Context, rows []ImportRow, owner map[*ImportRow]uuid.UUID) error {
	tags := map[uuid.UUID][]string{}
	for i := range rows {
		if cid, ok := owner[&rows[i]]; ok && len(rows[i].Tags) > 0 {
			tags[cid] = append(tags[cid], rows[i].Tags...)
		}
	}
	if len(tags) == 0 {
		return nil
	}
	if w.tagger == nil {
		return errors.New("importer: no tag store wired (SetTagger)")
	}
	a := contact.NewAudit(ctx)
	if err := w.tagger.AddByContactTx(ctx, w.tx, a, tags); err != nil {
		return err
	}
	return a.Flush(ctx, w.tx)
}

// applyCustom applies a record's custom values to a stored contact: fill sets the keys the
// contact has no value for, overwrite every key the record has.
func applyCustom(c *contact.Contact, r *ImportRow, mode ImportMode) {
	if len(r.CustomValues) == 0 {
		return
	}
	out := maps.Clone(c.Custom)
	if out == nil {
		out = contact.CustomValues{}
	}
	for k, v := range r.CustomValues {
		if _, has := out[k]; has && mode == ImportFill {
			continue
		}
		out[k] = v
	}
	c.Custom = out
}
