package erasure

import (
	"context"
	"fmt"

	"github.com/contactd/contactd/contact"
	"github.com/jackc/pgx/v5"
)

// jobs scrubs River's job rows (river_job): a job's recorded errors can quote a person (a
// failed normalization naming the email it refused), and its metadata and args could. Every
// job kind's args hold ids only, so the rows read are those with errors or metadata; each
// string value there that mentions the people's values becomes contact.ErasedMarker, the job
// itself (its state, attempts, and the fact that it failed) stays. Contact ids are not looked
// for: args name the contacts a pending job works on, and a tombstone keeps its id anyway.
// River owns the table and its schema comes after contactd's migrations, so it has no index
// of contactd's: the rows with errors or metadata are read once a batch of erasures, and
// River's cleaner bounds how many there are (finished jobs go after a day, discarded ones
// after a week).
type jobs struct{}

// ScrubTx scrubs the jobs that mention p's values.
func (jobs) ScrubTx(ctx context.Context, tx pgx.Tx, p *contact.Personal) error {
	ids := make(map[string]bool, len(p.ContactIDs))
	for _, id := range p.ContactIDs {
		ids[id.String()] = true
	}
	values := &contact.Personal{Words: p.Words, FirstNames: p.FirstNames}
	for _, n := range p.Needles {
		if !ids[n] {
			values.Needles = append(values.Needles, n)
		}
	}
	if len(values.Needles) == 0 && len(values.Words) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT id, args, metadata, coalesce(to_jsonb(errors), '[]') FROM river_job
		WHERE errors IS NOT NULL OR metadata <> '{}'::jsonb ORDER BY id`)
	if err != nil {
		return fmt.Errorf("erasure: scrub jobs: %w", err)
	}
	var (
		keys                 []int64
		argsOut, metaOut     []string
		errsOut              []string
		id                   int64
		args, meta, errsJSON []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &args, &meta, &errsJSON}, func() error {
		if !values.Mentions(string(args)) && !values.Mentions(string(meta)) && !values.Mentions(string(errsJSON)) {
			return nil
		}
		a, _, err := values.ScrubJSON(args)
		if err != nil {
			return err
		}
		m, _, err := values.ScrubJSON(meta)
		if err != nil {
			return err
		}
		e, _, err := values.ScrubJSON(errsJSON)
		if err != nil {
			return err
		}
		keys = append(keys, id)
		argsOut, metaOut, errsOut = append(argsOut, string(a)), append(metaOut, string(m)), append(errsOut, string(e))
		return nil
	})
	if err != nil {
		return fmt.Errorf("erasure: scrub jobs: %w", err)
	}
	if len(keys) == 0 {
		return nil
	}
	_, err = tx.Exec(ctx, `UPDATE river_job j SET args = u.a::jsonb, metadata = u.m::jsonb,
			errors = CASE WHEN j.errors IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements(u.e::jsonb)) END
		FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS u(id, a, m, e) WHERE j.id = u.id`,
		keys, argsOut, metaOut, errsOut)
	if err != nil {
		return fmt.Errorf("erasure: scrub jobs: %w", err)
	}
	return nil
}
