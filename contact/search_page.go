package contact

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// A first page in relevance order reads only what it can show. A contact found by a name (a
// first or last name, a company or title word, a tag) scores that name's score, known before
// any contact is read, and ties go by id: so the first n contacts by id of each name hold every
// contact of the page that name finds (a contact further down has n contacts ahead of it with
// at least its score). With a filter, a one-word search reads the names best first, band by
// band (a statement each), until the page is full of contacts that score more than any unread
// name: a last name with a filter on 4% of contacts reads the contacts of a few names, not of
// the forty its word is close to.
// The branches that score row by row (emails, companies, phones) run last, and only if the page
// by name has room or a score they can reach, reading only the contacts that can reach it
// (rowBound).

// rankedPageTx renders the first n contacts of a search q in relevance order (best score first,
// ties by id) among those rest (a filter without q) selects, as a query of (id, score) rows and
// its arguments, reading in tx the names and the contacts by name it needs for it.
func rankedPageTx(ctx context.Context, tx pgx.Tx, q string, rest Filter, n int) (cand string, args []any, err error) {
	if len(searchWords(q)) != 1 || rest.selectsAll() {
		// Without a filter a name's first contacts fill its page at once, and the pairs of
		// names of a longer search are few each: one statement reads them all, which costs less
		// than a statement per band (each one finds the names again).
		where, args := rest.Where(nil)
		s, byName, byRow := pageSQL(q, where, args, n, searchPage{whole: true, walk: rest.selectsAll()}, nil)
		cand, args = withRows(s, nil, byRow, `SELECT id, max(score)::real AS score FROM (`+strings.Join(byName, "\nUNION ALL\n")+`) s
			GROUP BY id ORDER BY 2 DESC, 1 LIMIT `+s.page.n)
		return cand, args, nil
	}
	// A name's contacts are read in id order through its btree, each one checked against the
	// filter, stopping at a page. The planner, estimating a name it does not know (a lateral
	// parameter) at a few hundred contacts, would rather read them all by bitmap and sort them
	// ("smith" has 75k), and merge them with a tag's contacts (walking all of the tag's for a
	// name of 90 contacts). Sorts and merge joins are discouraged while the names are read
	// (what needs a sort still sorts: every branch here has a btree in id order).
	restore, err := plannerSettings(ctx, tx, "enable_sort", "enable_mergejoin")
	if err != nil {
		return "", nil, err
	}
	defer func() {
		if rerr := restore(); rerr != nil && err == nil {
			err = rerr
		}
	}()
	levels, err := pageLevels(ctx, tx, q, rest, n)
	if err != nil {
		return "", nil, err
	}
	var ids []uuid.UUID
	var scores []float32
	// Bands of 1, 2, 4, ... levels: an exact name usually fills the page alone.
	for i, size := 0, 1; ; size *= 2 {
		j := min(i+size, len(levels))
		hi, lo := float32(math.Inf(1)), float32(math.Inf(-1))
		if i > 0 {
			hi = levels[i]
		}
		if j < len(levels) {
			lo = levels[j]
		}
		bi, bs, err := readBand(ctx, tx, q, rest, n, lo, hi, i == 0)
		if err != nil {
			return "", nil, err
		}
		ids, scores = append(ids, bi...), append(scores, bs...)
		i = j
		if i == len(levels) || pageBeats(ids, scores, n, levels[i]) {
			break
		}
	}
	cand, args = pageWithRows(q, rest, n, ids, scores)
	return cand, args, nil
}

// pageBeats says whether the best n contacts of ids (with their scores; an id may repeat with
// a lower score) all score more than next: then no unread name can put a contact on the page (a
// contact scoring next ties with the last one and could come first by id).
func pageBeats(ids []uuid.UUID, scores []float32, n int, next float32) bool {
	best := make(map[uuid.UUID]float32, len(ids))
	for k, id := range ids {
		if v, ok := best[id]; !ok || scores[k] > v {
			best[id] = scores[k]
		}
	}
	if len(best) < n {
		return false
	}
	top := make([]float32, 0, len(best))
	for _, v := range best {
		top = append(top, v)
	}
	slices.Sort(top)
	return top[len(top)-n] > next
}

// pageSQL renders a search's branches for one statement of a page (see searchPage), with the
// filter's condition where (on contacts c, its arguments in args), which the page reads
// (page.where, or where if unset) and a guess depends on; band, if set, is the (lo, hi] of the
// names the statement reads.
func pageSQL(q, where string, args []any, n int, page searchPage, band []float32) (s *searchSQL, byName []string, byRow []rowBranch) {
	s = &searchSQL{args: args, where: "(" + where + ")"}
	if page.where == "" {
		page.where = s.where
	}
	page.n = s.arg(n)
	if page.order == "" {
		page.order = "c.id"
	}
	if band != nil {
		page.lo, page.hi = s.arg(band[0]), s.arg(band[1])
	}
	s.page = &page
	byName, byRow = s.branches(q)
	return s, byName, byRow
}

// plannerSettings turns the planner's settings names off in tx, in one round trip, and returns
// what restores them (one more).
func plannerSettings(ctx context.Context, tx pgx.Tx, names ...string) (func() error, error) {
	rows, err := tx.Query(ctx, `SELECT current_setting(n), set_config(n, 'off', true) FROM unnest($1::text[]) WITH ORDINALITY AS s (n, i)
		ORDER BY i`, names)
	if err != nil {
		return nil, fmt.Errorf("contact: search page: planner settings: %w", err)
	}
	prev, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var v string
		return v, r.Scan(&v, nil)
	})
	if err != nil {
		return nil, fmt.Errorf("contact: search page: planner settings: %w", err)
	}
	return func() error {
		if _, err := tx.Exec(ctx, `SELECT set_config(n, v, true) FROM unnest($1::text[], $2::text[]) AS s (n, v)`, names, prev); err != nil {
			return fmt.Errorf("contact: search page: planner settings: %w", err)
		}
		return nil
	}, nil
}

// unread renders branches a statement does not read: they select nothing, and stand there for
// their arguments (every argument of a statement must appear in it).
func unread(branches []string) string {
	return `SELECT * FROM (` + strings.Join(branches, "\nUNION ALL\n") + `) u WHERE false`
}

func rowSQL(byRow []rowBranch) []string {
	out := make([]string, len(byRow))
	for i, b := range byRow {
		out[i] = b.sql()
	}
	return out
}

// pageLevels returns the distinct scores of the names a search reads name by name, best first.
func pageLevels(ctx context.Context, tx pgx.Tx, q string, rest Filter, n int) ([]float32, error) {
	where, args := rest.Where(nil)
	s, byName, byRow := pageSQL(q, where, args, n, searchPage{levels: true}, nil)
	all := byName
	if len(byRow) > 0 {
		all = append(all, unread(rowSQL(byRow)))
	}
	rows, err := tx.Query(ctx, s.with()+`SELECT DISTINCT score::real FROM (`+strings.Join(all, "\nUNION ALL\n")+`) s (id, score)
		WHERE score IS NOT NULL ORDER BY 1 DESC`, s.args...)
	if err != nil {
		return nil, fmt.Errorf("contact: search levels: %w", err)
	}
	levels, err := pgx.CollectRows(rows, pgx.RowTo[float32])
	if err != nil {
		return nil, fmt.Errorf("contact: search levels: %w", err)
	}
	return levels, nil
}

// readBand reads the best n contacts (and their scores) of the names scoring in (lo, hi], and,
// in the first band, of the branches that read all they find at once.
func readBand(ctx context.Context, tx pgx.Tx, q string, rest Filter, n int, lo, hi float32, first bool) ([]uuid.UUID, []float32, error) {
	where, args := rest.Where(nil)
	s, byName, byRow := pageSQL(q, where, args, n, searchPage{whole: first}, []float32{lo, hi})
	all := byName
	if first && s.hasGuess() {
		// The guess scores 1, above every name: it is read with the first band.
		all = append(all, `SELECT id, 1::real FROM search_guess`)
	}
	if len(byRow) > 0 {
		all = append(all, unread(rowSQL(byRow)))
	}
	rows, err := tx.Query(ctx, s.with()+`SELECT id, max(score)::real FROM (`+strings.Join(all, "\nUNION ALL\n")+`) s (id, score)
		GROUP BY id ORDER BY 2 DESC, 1 LIMIT `+s.page.n, s.args...)
	if err != nil {
		return nil, nil, fmt.Errorf("contact: search band: %w", err)
	}
	defer rows.Close()
	var ids []uuid.UUID
	var scores []float32
	for rows.Next() {
		var id uuid.UUID
		var score float32
		if err := rows.Scan(&id, &score); err != nil {
			return nil, nil, fmt.Errorf("contact: search band: %w", err)
		}
		ids, scores = append(ids, id), append(scores, score)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("contact: search band: %w", err)
	}
	return ids, scores, nil
}

// pageWithRows renders the page from the best contacts by name (ids and their scores, an id
// possibly more than once) and the branches that score row by row.
func pageWithRows(q string, rest Filter, n int, ids []uuid.UUID, scores []float32) (string, []any) {
	where, args := rest.Where(nil)
	s, byName, byRow := pageSQL(q, where, args, n, searchPage{whole: true}, nil)
	return withRows(s, byName, byRow, `SELECT id, max(score)::real AS score FROM unnest(`+s.arg(ids)+`::uuid[], `+s.arg(scores)+`::real[]) s (id, score)
			GROUP BY id ORDER BY 2 DESC, 1 LIMIT `+s.page.n)
}

// withRows renders the page of s from top, the best contacts by name (a query of id and score:
// byName's branches, or what reading them found), and byRow's branches, which run only if the
// page by name has room or a score below their ceiling.
func withRows(s *searchSQL, byName []string, byRow []rowBranch, top string) (string, []any) {
	s.ctes = append(s.ctes,
		`search_top AS MATERIALIZED (`+top+`)`,
		`search_floor AS MATERIALIZED (SELECT CASE WHEN count(*) >= `+s.page.n+` THEN min(score) ELSE 0 END AS score FROM search_top)`)
	all := []string{`SELECT id, score FROM search_top`}
	if byName != nil {
		all = append(all, unread(byName))
	}
	for _, b := range byRow {
		all = append(all, `SELECT * FROM (`+b.sql()+` AND `+b.length+` <= `+rowBound(b)+`) r
			WHERE (SELECT score FROM search_floor) < `+strconv.FormatFloat(b.ceiling, 'f', -1, 64))
	}
	return s.with() + `SELECT id, max(score)::real AS score FROM (` + strings.Join(all, "\nUNION ALL\n") + `) s
		GROUP BY id ORDER BY 2 DESC, 1 LIMIT ` + s.page.n, s.args
}

// rowBound renders the longest a contact's length (see rowBranch) can be for b's score to reach
// the page's lowest (search_floor): base + base * n / length >= floor where floor > base. It
// is rounded up by a whole character, so that a score the float arithmetic puts a hair either
// side of the floor is read (a contact scoring the floor may still come first by id); one read
// in vain is ranked below the page.
func rowBound(b rowBranch) string {
	base := strconv.FormatFloat(b.ceiling/2, 'f', -1, 64)
	return `(SELECT CASE WHEN score > ` + base + ` THEN least(floor(` + base + ` * ` + b.n + ` / (score - ` + base + `)) + 1, 2147483647)::integer
		ELSE 2147483647 END FROM search_floor)`
}

// sortedPageTx renders the contacts that can be on page p of a search q in p's order (not
// relevance) among those rest (a filter without q) selects, with their scores, as a query of
// (id, score) rows and its arguments. Each name's first contacts after p's cursor in that order
// hold every contact of the page the name finds, so it reads at most a page per name, in the
// order where a btree has it (a last name's contacts by last name or by id, a first name's by
// last name); so do the branches that score row by row (sortedRows). The contacts of the page
// find all their names among what it reads (each one is among the first of each of its names
// and branches), so their scores are whole.
func sortedPageTx(ctx context.Context, tx pgx.Tx, q string, rest Filter, p Page) (string, []any, error) {
	// As for a relevance page: merge joins would walk all of a tag's contacts for each name.
	// Sorts stay: a name without a btree in the page's order must sort its contacts. The
	// setting is the transaction's (ListContacts' own), which runs the page's query next: it is
	// not restored before, or the query would be planned without it.
	if _, err := tx.Exec(ctx, `SET LOCAL enable_mergejoin = off`); err != nil {
		return "", nil, fmt.Errorf("contact: search page: %w", err)
	}
	where, args := rest.Where(nil)
	key, order := sortKeys[p.Sort.Key], "c.id"
	if key != "" {
		order = key + map[bool]string{true: " DESC", false: ""}[p.Sort.Desc] + ", c.id"
	}
	page := searchPage{whole: true, order: order, key: key, walk: rest.selectsAll()}
	if p.After != nil {
		var after string
		after, args = keysetSQL(p, key, args)
		page.where = "(" + where + " AND " + after + ")"
		if key != "" {
			// A walk reads the sort's btree from the cursor on: keysetSQL's OR alone has it read
			// from the btree's start, filtering (770k contacts to reach a later page's first).
			// The name branches keep the condition as it is: with the bound the planner would
			// rather read a name's contacts by bitmap and sort them.
			page.walkFrom = key + map[bool]string{true: " <= ", false: " >= "}[p.Sort.Desc] + "$" + strconv.Itoa(len(args)-1)
		}
	}
	s, byName, byRow := pageSQL(q, where, args, p.Limit+1, page, nil)
	all := append(byName, sortedRows(s, byRow)...)
	return s.with() + `SELECT id, max(score)::real AS score FROM (` + strings.Join(all, "\nUNION ALL\n") + `) s
		GROUP BY id`, s.args, nil
}

// A sorted page's row branches walk the contacts in the page's order (see sortedRows):
// rowWalkSpan pages of them at first, once for every branch; a branch that found at least
// 1/rowWalkShare of a page there (a prefix of one contact in 160 or more, "robert" starts 2% of
// emails) walks on to rowWalkLong times as far on its own, where it expects its page; one that
// found less reads all it selects (at most some 0.6% of the contacts, by that measure).
const (
	rowWalkSpan  = 40
	rowWalkShare = 4
	rowWalkLong  = 5
)

// rowWalkColumns are the columns of contacts c a sorted page's walk keeps for its row branches:
// those the branches test and score, the sort keys and the status (a page walks only when its
// filter selects by status alone). Keeping these and not the whole row (custom fields, extra
// data) halves what the walk costs.
const rowWalkColumns = `c.id, c.status, c.first_name, c.last_name, c.email, c.email_normalized, c.company, c.phone,
	c.created_at, c.updated_at`

// sortedRows renders the row branches (emails, domains, companies, phones the word starts) of a
// page of s in another order than relevance: each one's first contacts in the page's order
// (after its cursor) hold every contact of the page it finds, as a name's do, so it keeps at
// most a page of them. Its index finds them in no order: a page whose filter selects every
// contact first walks the contacts in the page's order (the sort's btree), which finds a page
// of a common prefix ("james" starts 8% of emails), and reads all a branch selects only when
// a walk did not find its page (see rowWalkSpan). A walk that finds a page holds the first
// contacts the branch selects: it read every contact before its last one.
func sortedRows(s *searchSQL, byRow []rowBranch) []string {
	out := make([]string, len(byRow))
	if len(byRow) == 0 {
		return out
	}
	n := s.page.n
	if s.page.walk {
		s.ctes = append(s.ctes, `search_row_walk AS MATERIALIZED (SELECT `+rowWalkColumns+` FROM contacts c WHERE `+s.page.walkWhere()+`
			ORDER BY `+s.page.order+` LIMIT `+strconv.Itoa(rowWalkSpan)+` * `+n+`)`)
	}
	// The long walk reads its contacts with their sort key, so that it stops at its page.
	key, order := s.page.walkKey()
	for i, b := range byRow {
		// OFFSET 0: the planner would rather walk the sort's btree to its end for a rare prefix.
		all := `SELECT c.id, ` + b.score + ` FROM (SELECT c.* FROM contacts c WHERE ` + b.cond + ` OFFSET 0) c
			ORDER BY ` + s.page.order + ` LIMIT ` + n
		if !s.page.walk {
			out[i] = `SELECT * FROM (` + all + `) r`
			continue
		}
		walk, long := fmt.Sprintf("search_row_walk_%d", i+1), fmt.Sprintf("search_row_long_%d", i+1)
		s.ctes = append(s.ctes, walk+` AS MATERIALIZED (SELECT c.id, `+b.score+` AS score FROM search_row_walk c
			WHERE `+b.cond+` ORDER BY `+s.page.order+` LIMIT `+n+`)`,
			long+` AS MATERIALIZED (SELECT c.id, `+b.score+` AS score FROM (SELECT c.*, `+key+` AS search_key FROM contacts c
				WHERE (SELECT count(*) FROM `+walk+`) BETWEEN ceil(`+n+`::real / `+strconv.Itoa(rowWalkShare)+`) AND `+n+` - 1 AND `+s.page.walkWhere()+`
				ORDER BY `+s.page.order+` LIMIT `+strconv.Itoa(rowWalkLong*rowWalkSpan)+` * `+n+`) c
			WHERE `+b.cond+` ORDER BY `+order+` LIMIT `+n+`)`)
		out[i] = `SELECT id, score FROM ` + walk + `
			UNION ALL
			SELECT id, score FROM ` + long + `
			UNION ALL
			SELECT * FROM (` + all + `) r WHERE (SELECT count(*) FROM ` + walk + `) < ` + n + ` AND (SELECT count(*) FROM ` + long + `) < ` + n
	}
	return out
}
