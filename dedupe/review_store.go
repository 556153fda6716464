package dedupe

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/merge"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Review is a pair of contacts the matcher was unsure of, for a person to decide.
type Review struct {
	ID           uuid.UUID
	ContactA     uuid.UUID
	ContactB     uuid.UUID
	Score        float64
	Explanation  json.RawMessage
	ModelVersion *int
	Status       string // open, merged, dismissed, obsolete
	CreatedAt    time.Time
	DecidedAt    *time.Time
	DecidedBy    *string
	MergeID      *uuid.UUID
}

// ReviewProposal is a pair to put in front of a person.
type ReviewProposal struct {
	A, B                       uuid.UUID
	Score                      float64
	Explanation                any
	ModelVersion               *int
	FingerprintA, FingerprintB string
}

// Fingerprint identifies the values of a contact's matched fields: a dismissed pair is
// proposed again only when one of its contacts' fingerprints changes.
func Fingerprint(c *contact.Contact) string {
	h := sha256.New() // a hash.Hash's Write never returns an error
	for _, f := range contact.Fields {
		if !f.Matched {
			continue
		}
		if v := f.Get(&c.Values); v != nil {
			h.Write([]byte(*v))
		}
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

const reviewColumns = `id, contact_a, contact_b, score, explanation, model_version, status, created_at, decided_at, decided_by, merge_id`

func scanReview(row pgx.Row) (*Review, error) {
	var r Review
	err := row.Scan(&r.ID, &r.ContactA, &r.ContactB, &r.Score, &r.Explanation, &r.ModelVersion, &r.Status, &r.CreatedAt, &r.DecidedAt, &r.DecidedBy, &r.MergeID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, db.NotFound("duplicate review not found")
	}
	if err != nil {
		return nil, fmt.Errorf("dedupe: review: %w", err)
	}
	return &r, nil
}

func orderPair(p *ReviewProposal) {
	if p.B.String() < p.A.String() {
		p.A, p.B = p.B, p.A
		p.FingerprintA, p.FingerprintB = p.FingerprintB, p.FingerprintA
	}
}

// ProposeReviews opens reviews of the pairs, or refreshes open ones, in one statement. A
// dismissed pair is reopened only when one of the two contacts changed in a matched field
// since; a merged pair never is. It returns how many pairs are (now) open.
func (s *Store) ProposeReviews(ctx context.Context, ps []ReviewProposal) (int, error) {
	if len(ps) == 0 {
		return 0, nil
	}
	n := len(ps)
	ids, as, bs := make([]uuid.UUID, n), make([]uuid.UUID, n), make([]uuid.UUID, n)
	scores := make([]float64, n)
	expl := make([][]byte, n)
	versions := make([]*int, n)
	fas, fbs := make([]string, n), make([]string, n)
	seen := map[[2]uuid.UUID]bool{}
	k := 0
	for _, p := range ps {
		orderPair(&p)
		if seen[[2]uuid.UUID{p.A, p.B}] {
			continue // one pair once per statement, as ON CONFLICT requires
		}
		seen[[2]uuid.UUID{p.A, p.B}] = true
		e, err := json.Marshal(p.Explanation)
		if err != nil {
			return 0, fmt.Errorf("dedupe: review explanation: %w", err)
		}
		ids[k], as[k], bs[k], scores[k], expl[k], versions[k], fas[k], fbs[k] = uuid.Must(uuid.NewV7()), p.A, p.B, p.Score, e, p.ModelVersion, p.FingerprintA, p.FingerprintB
		k++
	}
	tag, err := s.db.Pool.Exec(ctx, `
		INSERT INTO duplicate_reviews (id, contact_a, contact_b, score, explanation, model_version, fingerprint_a, fingerprint_b)
		SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::float8[], $5::jsonb[], $6::int[], $7::text[], $8::text[])
		ON CONFLICT (contact_a, contact_b) DO UPDATE SET score = EXCLUDED.score, explanation = EXCLUDED.explanation,
			model_version = EXCLUDED.model_version, fingerprint_a = EXCLUDED.fingerprint_a,
			fingerprint_b = EXCLUDED.fingerprint_b, status = 'open', decided_at = NULL, decided_by = NULL
		WHERE duplicate_reviews.status IN ('open', 'obsolete')
			OR (duplicate_reviews.status = 'dismissed' AND (duplicate_reviews.fingerprint_a <> EXCLUDED.fingerprint_a
				OR duplicate_reviews.fingerprint_b <> EXCLUDED.fingerprint_b))`,
		ids[:k], as[:k], bs[:k], scores[:k], expl[:k], versions[:k], fas[:k], fbs[:k])
	if err != nil {
		return 0, fmt.Errorf("dedupe: propose reviews: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// Dismissed reports whether a person dismissed the pair and neither contact has changed in a
// matched field since: such a pair must not be merged automatically either.
func (s *Store) Dismissed(ctx context.Context, p ReviewProposal) (bool, error) {
	orderPair(&p)
	var n int
	err := s.db.Pool.QueryRow(ctx, `SELECT count(*) FROM duplicate_reviews WHERE contact_a = $1 AND contact_b = $2
		AND status = 'dismissed' AND fingerprint_a = $3 AND fingerprint_b = $4`, p.A, p.B, p.FingerprintA, p.FingerprintB).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("dedupe: dismissed: %w", err)
	}
	return n > 0, nil
}

// Dismissals are pairs a person dismissed, each with the two contacts' fingerprints at the
// time, keyed by the ordered pair.
type Dismissals map[[2]uuid.UUID][2]string

// Has reports whether a person dismissed the pair and neither contact has changed in a matched
// field since, as Dismissed does.
func (d Dismissals) Has(p ReviewProposal) bool {
	orderPair(&p)
	f, ok := d[[2]uuid.UUID{p.A, p.B}]
	return ok && f[0] == p.FingerprintA && f[1] == p.FingerprintB
}

// Dismissals reads the dismissed pairs that involve one of ids (all of them when ids is nil) in
// one query, for checks of many pairs at once. Dismissals are made by people, so there are few
// enough to hold in memory.
func (s *Store) Dismissals(ctx context.Context, ids []uuid.UUID) (Dismissals, error) {
	var rows pgx.Rows
	var err error
	if ids == nil {
		rows, err = s.db.Pool.Query(ctx, `SELECT contact_a, contact_b, fingerprint_a, fingerprint_b FROM duplicate_reviews
			WHERE status = 'dismissed'`)
	} else {
		rows, err = s.db.Pool.Query(ctx, `SELECT contact_a, contact_b, fingerprint_a, fingerprint_b FROM duplicate_reviews
			WHERE status = 'dismissed' AND (contact_a = ANY($1) OR contact_b = ANY($1))`, ids)
	}
	if err != nil {
		return nil, fmt.Errorf("dedupe: dismissals: %w", err)
	}
	defer rows.Close()
	out := Dismissals{}
	for rows.Next() {
		var a, b uuid.UUID
		var fa, fb string
		if err := rows.Scan(&a, &b, &fa, &fb); err != nil {
			return nil, fmt.Errorf("dedupe: dismissals: %w", err)
		}
		out[[2]uuid.UUID{a, b}] = [2]string{fa, fb}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dedupe: dismissals: %w", err)
	}
	return out, nil
}

// dismissPairsTx records every pair of the contacts as dismissed by actor, with the contacts'
// fingerprints as they are now (cs read with contact.ReadTx), whatever review the pair had.
func dismissPairsTx(ctx context.Context, tx pgx.Tx, cs []*contact.Contact, score *float64, actor string) error {
	var rid, as, bs []uuid.UUID
	var fas, fbs []string
	for i, a := range cs {
		for _, b := range cs[i+1:] {
			p := ReviewProposal{A: a.ID, B: b.ID, FingerprintA: Fingerprint(a), FingerprintB: Fingerprint(b)}
			orderPair(&p)
			rid, as, bs = append(rid, uuid.Must(uuid.NewV7())), append(as, p.A), append(bs, p.B)
			fas, fbs = append(fas, p.FingerprintA), append(fbs, p.FingerprintB)
		}
	}
	if len(as) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO duplicate_reviews (id, contact_a, contact_b, score, explanation, fingerprint_a, fingerprint_b, status, decided_at, decided_by)
		SELECT u.id, u.a, u.b, $6, '{}', u.fa, u.fb, 'dismissed', now(), $7
		FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[]) AS u(id, a, b, fa, fb)
		ON CONFLICT (contact_a, contact_b) DO UPDATE SET status = 'dismissed', merge_id = NULL,
			fingerprint_a = EXCLUDED.fingerprint_a, fingerprint_b = EXCLUDED.fingerprint_b,
			decided_at = now(), decided_by = EXCLUDED.decided_by`,
		rid, as, bs, fas, fbs, *score, actor)
	if err != nil {
		return fmt.Errorf("dedupe: dismiss pairs: %w", err)
	}
	return nil
}

// ReviewCursor is the position after which a page of reviews starts (best first).
type ReviewCursor struct {
	Score float64
	ID    uuid.UUID
}

// ListReviews returns reviews of a status, best score first, and the next cursor.
func (s *Store) ListReviews(ctx context.Context, status string, after *ReviewCursor, limit int) ([]*Review, *ReviewCursor, error) {
	var rows pgx.Rows
	var err error
	if after == nil {
		rows, err = s.db.Pool.Query(ctx, `SELECT `+reviewColumns+` FROM duplicate_reviews WHERE status = $1
			ORDER BY score DESC, id LIMIT $2`, status, limit+1)
	} else {
		rows, err = s.db.Pool.Query(ctx, `SELECT `+reviewColumns+` FROM duplicate_reviews WHERE status = $1
			AND (score < $2 OR (score = $2 AND id > $3)) ORDER BY score DESC, id LIMIT $4`, status, after.Score, after.ID, limit+1)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("dedupe: list reviews: %w", err)
	}
	reviews, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Review, error) { return scanReview(r) })
	if err != nil {
		return nil, nil, err
	}
	if len(reviews) <= limit {
		return reviews, nil, nil
	}
	reviews = reviews[:limit]
	last := reviews[limit-1]
	return reviews, &ReviewCursor{Score: last.Score, ID: last.ID}, nil
}

// GetReview returns a review.
func (s *Store) GetReview(ctx context.Context, id uuid.UUID) (*Review, error) {
	return scanReview(s.db.Pool.QueryRow(ctx, `SELECT `+reviewColumns+` FROM duplicate_reviews WHERE id = $1`, id))
}

// lockOpenReviewTx locks the review for the rest of tx and returns it, or a KindConflict
// error when it is no longer open. Every answer to a review item (dismiss, merge) starts here,
// so that of two concurrent answers the second sees the first's decision.
func lockOpenReviewTx(ctx context.Context, tx pgx.Tx, id uuid.UUID) (*Review, error) {
	r, err := scanReview(tx.QueryRow(ctx, `SELECT `+reviewColumns+` FROM duplicate_reviews WHERE id = $1 FOR UPDATE`, id))
	if err != nil {
		return nil, err
	}
	if r.Status != "open" {
		return nil, db.Conflict("the review is %s, not open", r.Status)
	}
	return r, nil
}

// DismissReview records that a person decided the pair are different people. It fails with
// KindNotFound for an unknown review and KindConflict unless the review is open, deciding at
// most once however many answers race (see Engine.MergeReview).
func (s *Store) DismissReview(ctx context.Context, id uuid.UUID) (*Review, error) {
	var out *Review
	err := s.db.RetryTx(ctx, func(tx pgx.Tx) error {
		r, err := lockOpenReviewTx(ctx, tx, id)
		if err != nil {
			return err
		}
		out, err = scanReview(tx.QueryRow(ctx, `UPDATE duplicate_reviews SET status = 'dismissed', decided_at = now(), decided_by = $2
			WHERE id = $1 RETURNING `+reviewColumns, id, contact.ActorFrom(ctx)))
		if err != nil {
			return err
		}
		a := contact.NewAudit(ctx)
		for _, c := range []uuid.UUID{r.ContactA, r.ContactB} {
			a.Add("dismiss_duplicate", "duplicate_review", id, &c, map[string]contact.Change{
				"pair": {After: []string{r.ContactA.String(), r.ContactB.String()}}})
		}
		return a.Flush(ctx, tx)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// MergeReview answers a review item with a merge of its pair: in one transaction it locks the
// review, refuses with KindConflict unless it is open (KindNotFound when there is none), and
// merges its two contacts through the Merger, which closes the review as merged by the merge.
// survivorID, when not nil, must be one of the pair (KindInvalid otherwise) and fieldValues
// choose the survivor's values as merge.Request.FieldValues do. Of concurrent answers to one
// review (merges, dismissals) exactly one wins; the others get KindConflict.
func (e *Engine) MergeReview(ctx context.Context, reviewID uuid.UUID, fieldValues map[string]uuid.UUID, survivorID *uuid.UUID) (*merge.Merge, error) {
	if e.Merger == nil {
		return nil, errors.New("dedupe: merge review: the engine has no Merger")
	}
	var m *merge.Merge
	err := e.Store.db.RetryTx(ctx, func(tx pgx.Tx) error {
		// The review is locked before the contacts (the merge locks those). A merge of the same
		// contacts that does not go through the review locks them the other way round; if the
		// two deadlock, PostgreSQL aborts one and RetryTx runs it again.
		r, err := lockOpenReviewTx(ctx, tx, reviewID)
		if err != nil {
			return err
		}
		if survivorID != nil && *survivorID != r.ContactA && *survivorID != r.ContactB {
			return db.Invalid("survivorId", "must be one of the review's two contacts")
		}
		m, err = e.Merger.MergeTx(ctx, tx, merge.Request{ContactIDs: []uuid.UUID{r.ContactA, r.ContactB},
			SurvivorID: survivorID, FieldValues: fieldValues})
		if err != nil {
			return err
		}
		return checkReviewMergedTx(ctx, tx, reviewID, m.ID)
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// checkReviewMergedTx makes sure the merge closed the review it answered. The Merger closes
// the reviews between the contacts it merges (through the Reviews concern); a Merger without
// that concern would leave the review open after merging its pair, so the transaction fails
// rather than commit that.
func checkReviewMergedTx(ctx context.Context, tx pgx.Tx, reviewID, mergeID uuid.UUID) error {
	var status string
	var by *uuid.UUID
	if err := tx.QueryRow(ctx, `SELECT status, merge_id FROM duplicate_reviews WHERE id = $1`, reviewID).Scan(&status, &by); err != nil {
		return fmt.Errorf("dedupe: merge review %s: %w", reviewID, err)
	}
	if status != "merged" || by == nil || *by != mergeID {
		return fmt.Errorf("dedupe: merge review %s: the merge left it %s (merge %v); is the Reviews concern registered with the Merger?", reviewID, status, by)
	}
	return nil
}

// CountReviews returns how many reviews have the status.
func (s *Store) CountReviews(ctx context.Context, status string) (int, error) {
	var n int
	if err := s.db.Pool.QueryRow(ctx, `SELECT count(*) FROM duplicate_reviews WHERE status = $1`, status).Scan(&n); err != nil {
		return 0, fmt.Errorf("dedupe: count reviews: %w", err)
	}
	return n, nil
}
