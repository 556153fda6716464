package dedupe_test

import (
	"sync"
	"testing"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/dedupe"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/merge"
	"github.com/google/uuid"
)

// openReview proposes the pair of two new contacts for review and returns the review.
func (b bundle) openReview(t *testing.T, first, last string) *dedupe.Review {
	t.Helper()
	x := b.add(t, contact.NewContact{FirstName: first, LastName: last})
	y := b.add(t, contact.NewContact{FirstName: first, LastName: last, Company: "Elsewhere"})
	cs, err := b.app.Contacts.MatchContacts(b.ctx, []uuid.UUID{x, y})
	if err != nil || len(cs) != 2 {
		t.Fatalf("match contacts: %d %v", len(cs), err)
	}
	if _, err := b.app.Dedupe.ProposeReviews(b.ctx, []dedupe.ReviewProposal{{A: x, B: y, Score: 0.5,
		FingerprintA: dedupe.Fingerprint(cs[0].Contact), FingerprintB: dedupe.Fingerprint(cs[1].Contact)}}); err != nil {
		t.Fatal(err)
	}
	var id uuid.UUID
	if err := b.pool.QueryRow(b.ctx, `SELECT id FROM duplicate_reviews WHERE (contact_a, contact_b) IN (($1, $2), ($2, $1))`, x, y).Scan(&id); err != nil {
		t.Fatal(err)
	}
	r, err := b.app.Dedupe.GetReview(b.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestConcurrentReviewAnswers races two answers to each of several open reviews (a merge and a
// dismissal, or two merges): exactly one answer wins, the other is a conflict, and the
// database says what the winner did: a merged review names its merge and the pair is merged,
// a dismissed review leaves both contacts active and made no merge.
func TestConcurrentReviewAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		first, second string // "merge" or "dismiss"
	}{
		{"merge and dismiss", "merge", "dismiss"},
		{"dismiss and merge", "dismiss", "merge"},
		{"two merges", "merge", "merge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			const rounds = 5
			for i := range rounds {
				r := b.openReview(t, "Race", string(rune('A'+i)))
				answer := func(kind string) (*merge.Merge, error) {
					if kind == "dismiss" {
						_, err := b.app.Dedupe.DismissReview(b.ctx, r.ID)
						return nil, err
					}
					return b.engine.MergeReview(b.ctx, r.ID, nil, nil)
				}
				kinds := []string{tt.first, tt.second}
				merges := make([]*merge.Merge, 2)
				errs := make([]error, 2)
				var wg sync.WaitGroup
				for k := range kinds {
					wg.Go(func() { merges[k], errs[k] = answer(kinds[k]) })
				}
				wg.Wait()

				won := -1
				for k, err := range errs {
					switch {
					case err == nil && won == -1:
						won = k
					case err == nil:
						t.Fatalf("round %d: both answers succeeded", i)
					case db.ErrorKind(err) != db.KindConflict:
						t.Fatalf("round %d: %s failed with %v, want a conflict", i, kinds[k], err)
					}
				}
				if won == -1 {
					t.Fatalf("round %d: no answer succeeded: %v", i, errs)
				}
				got, err := b.app.Dedupe.GetReview(b.ctx, r.ID)
				if err != nil {
					t.Fatal(err)
				}
				sa, _ := b.status(t, r.ContactA)
				sb, _ := b.status(t, r.ContactB)
				var n int
				if err := b.pool.QueryRow(b.ctx, `SELECT count(*) FROM merges WHERE survivor_id = ANY($1)`,
					[]uuid.UUID{r.ContactA, r.ContactB}).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if kinds[won] == "dismiss" {
					if got.Status != "dismissed" || got.MergeID != nil || sa != contact.StatusActive || sb != contact.StatusActive || n != 0 {
						t.Fatalf("round %d: dismissal won, but the review is %s (merge %v), the contacts %s and %s, %d merges",
							i, got.Status, got.MergeID, sa, sb, n)
					}
					continue
				}
				m := merges[won]
				if got.Status != "merged" || got.MergeID == nil || *got.MergeID != m.ID || n != 1 ||
					(sa == contact.StatusMerged) == (sb == contact.StatusMerged) {
					t.Fatalf("round %d: merge %s won, but the review is %s (merge %v), the contacts %s and %s, %d merges",
						i, m.ID, got.Status, got.MergeID, sa, sb, n)
				}
			}
		})
	}
}

// TestMergeReviewRefuses: an answer by merge is refused, with nothing written, for an unknown
// review, a review already decided, and a survivor outside the review's pair; a propose-only
// engine cannot answer by merge at all.
func TestMergeReviewRefuses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	open := b.openReview(t, "Ada", "Lovelace")
	dismissed := b.openReview(t, "Alan", "Turing")
	if _, err := b.app.Dedupe.DismissReview(b.ctx, dismissed.ID); err != nil {
		t.Fatal(err)
	}
	other := b.add(t, contact.NewContact{FirstName: "Grace", LastName: "Hopper"})
	tests := []struct {
		name       string
		engine     *dedupe.Engine
		review     uuid.UUID
		survivorID *uuid.UUID
		want       db.Kind
	}{
		{"unknown review", b.engine, uuid.Must(uuid.NewV7()), nil, db.KindNotFound},
		{"dismissed review", b.engine, dismissed.ID, nil, db.KindConflict},
		{"survivor outside the pair", b.engine, open.ID, &other, db.KindInvalid},
		{"propose-only engine", b.propose, open.ID, nil, db.KindInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := tt.engine.MergeReview(b.ctx, tt.review, nil, tt.survivorID)
			if err == nil || db.ErrorKind(err) != tt.want {
				t.Fatalf("merge %v, error %v; want a %v error", m, err, tt.want)
			}
		})
	}
	got, err := b.app.Dedupe.GetReview(b.ctx, open.ID)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := b.pool.QueryRow(b.ctx, `SELECT count(*) FROM merges`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if got.Status != "open" || n != 0 {
		t.Fatalf("after refused answers: review %s, %d merges; want open and none", got.Status, n)
	}
	// The pair can still be merged, with either contact surviving.
	m, err := b.engine.MergeReview(b.ctx, open.ID, nil, &open.ContactB)
	if err != nil || m.SurvivorID != open.ContactB {
		t.Fatalf("merge: %+v %v", m, err)
	}
}
