package contact

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// SearchTerms is the erasure scrubber of search_terms, the distinct name words search looks
// typos up in: an erased person's names leave it unless another contact still has them.
type SearchTerms struct{}

// nonWord splits names into the words search_terms holds.
var nonWord = regexp.MustCompile(`[^[:alnum:]]+`)

// ScrubTx deletes p's name words from search_terms that no other contact has as a first or last
// name or as a word of its company or title.
func (SearchTerms) ScrubTx(ctx context.Context, tx pgx.Tx, p *Personal) error {
	seen := map[string]bool{}
	var words []string
	for _, name := range slices.Concat(p.Words, p.FirstNames) {
		for _, w := range nonWord.Split(strings.ToLower(name), -1) {
			if w != "" && !seen[w] {
				seen[w] = true
				words = append(words, w)
			}
		}
		// Whole names are terms too (a first name of two words).
		if n := strings.ToLower(strings.TrimSpace(name)); n != "" && !seen[n] {
			seen[n] = true
			words = append(words, n)
		}
	}
	if len(words) == 0 {
		return nil
	}
	// One probe per index (first names, last names, company and title words) for each word:
	// an OR of the three read the whole contacts table per word.
	_, err := tx.Exec(ctx, `DELETE FROM search_terms s WHERE s.term = ANY($1)
		AND NOT EXISTS (SELECT 1 FROM contacts c WHERE lower(c.first_name) = s.term AND c.id <> ALL($2))
		AND NOT EXISTS (SELECT 1 FROM contacts c WHERE lower(c.last_name) = s.term AND c.id <> ALL($2))
		AND NOT EXISTS (SELECT 1 FROM contacts c
			WHERE regexp_split_to_array(lower(coalesce(c.company, '') || ' ' || coalesce(c.title, '')), '[^[:alnum:]]+') @> ARRAY[s.term]
				AND c.id <> ALL($2))`,
		words, p.ContactIDs)
	if err != nil {
		return fmt.Errorf("contact: erase search terms: %w", err)
	}
	return nil
}
