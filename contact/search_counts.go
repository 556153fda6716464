package contact

import (
	"context"
	"fmt"

	"github.com/contactd/contactd/internal/db"
)

// RefreshNameCounts recounts, for each name search knows (search_terms), how many contacts have
// it as their first and as their last name, and among their company and title words: the prior
// a typo search weighs close names by (search_term_weight, and its guess at the name meant),
// and what tells a page it may walk a common word's contacts in order (orgWalk). The counts
// are statistics, refreshed like ANALYZE rather than kept by every write (a common name's row
// would be a lock its every writer waits on): by a periodic job and after a large import. A
// name added since the last refresh counts as no contact's. It reads every contact once (some
// eight seconds for a million, most of it splitting companies and titles into words) and returns
// how many names' counts changed.
func RefreshNameCounts(ctx context.Context, q db.Querier) (int64, error) {
	var changed int64
	if err := q.QueryRow(ctx, `SELECT search_terms_count_names()`).Scan(&changed); err != nil {
		return 0, fmt.Errorf("contact: refresh name counts: %w", err)
	}
	return changed, nil
}
