package contact

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A search (Filter.Q) finds its candidates through indexes only, then ranks them (migration
// 00019 has the indexes and the table of names):
//
//   - names: each word of the query is looked up in search_terms, the distinct first and last
//     names, where a word finds every name one edit away (through the names' deletion
//     neighbourhoods, migration 00034), the names within a few edits of it (trigrams, and for
//     short names the first two letters, propose; Levenshtein decides) and the names it
//     starts; a one-word search reads the contacts with one of those first or last names, a
//     longer one those whose first and last name match its first and last words, in either
//     order. A name's score is how close it is to its word, weighed by how common the name is
//     in its place (search_term_weight); a search may also guess the person meant (guess,
//     guessOne).
//   - a one-word search also reads the contacts with a company or title word close to it
//     (through search_terms as well), the emails, email domains and companies it starts and, for digits, the
//     phones ending with them (their last ten, so a number with its country code finds one
//     stored without);
//   - tags close to the whole query select their contacts.
//
// A contact's score is the best of its matches, between 0 and 1.

// maxEdits is how many edits a word of length n may differ from a name and still match it.
func maxEdits(n int) int {
	if n <= 3 {
		return 1
	}
	return 2
}

// minPrefix is the shortest word that finds the names, emails and companies it starts.
const minPrefix = 3

// termSimilarity is the trigram similarity (pg_trgm.similarity_threshold) at which a name of
// search_terms is proposed for a word before Levenshtein decides: low, because one typo in a
// short name shares few trigrams and search_terms is small.
const termSimilarity = 0.2

// tagSimilarity is the word similarity (pg_trgm.word_similarity_threshold) a tag needs to the
// query.
const tagSimilarity = 0.5

// likePrefix is s as a LIKE pattern that matches what starts with it.
func likePrefix(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s) + "%"
}

// searchWords splits a search into its words.
func searchWords(q string) []string { return strings.Fields(strings.ToLower(q)) }

// searchSQL builds a search's query: its arguments (numbered after those before it), its
// common table expressions and, for a page in relevance order, the page it reads.
type searchSQL struct {
	args []any
	ctes []string
	page *searchPage
	// where is, for a ranked search, the condition (on contacts c) of the contacts the list
	// shows; "" for a search that only selects contacts (Filter.Where).
	where string
	// withGuess says a guess's table was added (addGuess).
	withGuess bool
}

// searchPage makes a search read only what a page can show: each branch reads the contacts the
// filter selects (where, a condition on contacts c) by name, at most n (an argument) of them per
// name, in the page's order (order, on contacts c: the id for relevance, whose ties go by id).
//
// A page is read band by band (rankedPageTx): the names are known with their scores before any
// contact is read, so each statement reads only the names scoring in (lo, hi] (arguments; ""
// for all of them), best band first, until the page is full of contacts no unread name can beat.
// levels makes the branches read no contacts at all, only their names' scores; whole says the
// branches that do not read name by name (they read all they find at once) run in this
// statement, which is the first band's.
type searchPage struct {
	where  string
	n      string
	order  string
	lo, hi string
	levels bool
	whole  bool
	// walk says the filter selects every contact (but by status), so that the contacts in
	// the page's order are a fair sample to walk (see orgWalk, sortedRows).
	walk bool
	// key is the SQL of order's sort key on contacts c, "" for the id alone.
	key string
	// walkFrom is, for a page after a cursor, the condition that a contact's key is not before
	// the cursor's, which where implies: a walk adds it so that it reads its btree from the
	// cursor on.
	walkFrom string
}

// walkWhere is the condition on contacts c a walk in the page's order reads (see walkFrom).
func (p *searchPage) walkWhere() string {
	if p.walkFrom == "" {
		return p.where
	}
	return "(" + p.where + " AND " + p.walkFrom + ")"
}

// walkKey renders, for a walk that reads contacts c in the page's order through a subquery, the
// sort key the subquery outputs as search_key and the order on the subquery's rows: in terms
// of that column, the planner sees they come in that order and stops at the walk's page
// instead of sorting all it read.
func (p *searchPage) walkKey() (key, order string) {
	if p.key == "" {
		return "NULL", p.order
	}
	return p.key, strings.Replace(p.order, p.key, "c.search_key", 1)
}

// columns are the columns of contacts c the page's order needs.
func (p *searchPage) columns() string {
	if p.order == "c.id" {
		return "c.id"
	}
	return "c.*"
}

func (s *searchSQL) arg(v any) string {
	s.args = append(s.args, v)
	return fmt.Sprintf("$%d", len(s.args))
}

// terms adds a table of the names close to the word (term, its score, its counts first_n,
// last_n and org_n, and its score weighed as a first name and as a last name: first_score,
// last_score): the names one edit from it
// (through their deletion neighbourhoods), those within a few edits (trigrams, and for short
// names the first two letters, propose; Levenshtein decides) and, if prefix (the word being
// typed), those it starts; it returns the table's name. Computed once (a materialized CTE), the
// table lets the contacts be read by index, name by name. It keeps the expansions names
// closest to the word, the commoner first among names as close (search_term_weight).
func (s *searchSQL) terms(word, w string, prefix bool, expansions int) string {
	n := utf8.RuneCountInString(w)
	k := maxEdits(n)
	sql := fmt.Sprintf(`SELECT term, first_n, last_n, org_n FROM search_terms WHERE %[1]s %% term AND levenshtein_less_equal(%[1]s, term, %[2]d) <= %[2]d`, word, k)
	// A typo in a short name leaves too few trigrams in common: the names starting with one
	// of the word's first two letters are compared too.
	if r := []rune(w); n >= 2 {
		sql += fmt.Sprintf(` UNION SELECT term, first_n, last_n, org_n FROM search_terms WHERE (term LIKE %[3]s OR term LIKE %[4]s)
			AND length(term) BETWEEN %[5]d AND %[6]d AND levenshtein_less_equal(%[1]s, term, %[2]d) <= %[2]d`,
			word, k, s.arg(likePrefix(string(r[0]))), s.arg(likePrefix(string(r[1]))), n-k, n+k)
	}
	// Every name one edit away: one of the two is the other with a letter deleted, or both
	// are the same with a letter deleted (a substitution, a transposition).
	if d := wordDeletes(w); len(d) > 0 {
		near := s.arg(append(d, w))
		sql += ` UNION SELECT term, first_n, last_n, org_n FROM search_terms WHERE (deletes && ` + near + `::text[] OR term = ANY(` + near + `::text[]))
			AND (levenshtein_less_equal(` + word + `, term, 1) <= 1 OR term = ANY(` + s.arg(wordTranspositions(w)) + `::text[]))`
	}
	if prefix && n >= minPrefix {
		sql += ` UNION SELECT term, first_n, last_n, org_n FROM search_terms WHERE term LIKE ` + s.arg(likePrefix(w))
	} else {
		sql += ` UNION SELECT ` + word + `, 0, 0, 0`
	}
	// edits is how far the name is from the word for a guess: a name the word being typed
	// starts counts as one edit, whatever is left to type.
	completes := "false"
	if prefix && n >= minPrefix {
		completes = `starts_with(term, ` + word + `)`
	}
	name := fmt.Sprintf("search_terms_%d", len(s.ctes)+1)
	s.ctes = append(s.ctes, name+` AS MATERIALIZED (SELECT term, score, first_n, last_n, org_n, first_score, last_score,
		CASE WHEN score >= 1 THEN 0 WHEN `+completes+` THEN 1 ELSE search_word_distance(`+word+`, term) END AS edits
		FROM (SELECT term, score, first_n, last_n, org_n, search_term_weight(score, first_n) AS first_score,
			search_term_weight(score, last_n) AS last_score
			FROM (SELECT term, search_term_score(`+word+`, term) AS score, max(first_n) AS first_n, max(last_n) AS last_n,
				max(org_n) AS org_n
				FROM (`+sql+`) t GROUP BY term) t
			ORDER BY search_term_weight(score, greatest(first_n, last_n)) DESC, 1 LIMIT `+strconv.Itoa(expansions)+`) t)`)
	return name
}

// wordTranspositions is w with two adjacent letters swapped, for every pair that differs.
func wordTranspositions(w string) []string {
	r := []rune(w)
	out := []string{}
	for i := 0; i+1 < len(r); i++ {
		if r[i] != r[i+1] {
			t := slices.Clone(r)
			t[i], t[i+1] = t[i+1], t[i]
			out = append(out, string(t))
		}
	}
	return out
}

// wordDeletes is w with one letter deleted, for every letter (distinct), as
// search_term_deletes has it for a term; nil for words of fewer than 2 or more than 32 letters.
func wordDeletes(w string) []string {
	r := []rune(w)
	if len(r) < 2 || len(r) > 32 {
		return nil
	}
	var out []string
	for i := range r {
		d := string(r[:i]) + string(r[i+1:])
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// maxExpansions and maxPairExpansions bound how many names a word of a one-word search, and
// each word of a longer one, is close to: the closest ones (as Elasticsearch's fuzzy queries
// expand to at most 50 terms). A short typo'd word is within two edits of hundreds of names,
// and a two-word search reads each pair of its words' names.
const (
	maxExpansions     = 40
	maxPairExpansions = 16
)

// byName renders the contacts c that cond (on c and the rows of from) selects, with their
// score: all of them, or, for a page, at most a page per row of from in id order.
func (s *searchSQL) byName(from, cond, score string) string {
	if s.page == nil {
		return `SELECT c.id, ` + score + ` AS score FROM ` + from + ` JOIN contacts c ON ` + cond
	}
	sql := `SELECT x.id, ` + score + ` AS score FROM ` + from + ` ` + s.perName(`SELECT c.id FROM contacts c WHERE `+cond+
		` AND `+s.page.where+` ORDER BY `+s.page.order+` LIMIT `+s.page.n)
	if s.page.lo == "" || s.page.levels {
		return sql
	}
	// The band is of the names' scores: score as for a contact of the name that is not the
	// guess (guessed tells the guess by x.id), which reads the names' table only.
	level := `(` + strings.ReplaceAll(score, "x.id", "NULL::uuid") + `)::real`
	return sql + ` WHERE ` + level + ` > ` + s.page.lo + ` AND ` + level + ` <= ` + s.page.hi
}

// hasGuess says whether the search has a guess (see guess), a contact that scores 1 whatever
// its names' scores.
func (s *searchSQL) hasGuess() bool { return s.withGuess }

// perName joins, for a page, each name to the contacts sel (a lateral subquery) reads for it;
// to read the names' scores only (levels), to none of them, leaving x's columns null.
func (s *searchSQL) perName(sel string) string {
	if s.page.levels {
		return `LEFT JOIN LATERAL (` + sel + `) x ON false`
	}
	return `CROSS JOIN LATERAL (` + sel + `) x`
}

// band keeps, for a page read band by band, the rows of branch (a query of id and score, which
// depends on the name only) whose score is in the band; the condition reaches the names'
// table, so a name outside the band reads no contacts.
func (s *searchSQL) band(branch string) string {
	if s.page.lo == "" {
		return branch
	}
	return `SELECT * FROM (` + branch + `) b (id, score) WHERE b.score::real > ` + s.page.lo + ` AND b.score::real <= ` + s.page.hi
}

// byPair renders the contacts whose first name is one of the names of f and last name one of
// l (terms tables), scored by both; with a guess (a table of at most one contact, see guess)
// the guessed contact scores 1 and every other at most guessedCap, so that it comes first.
func (s *searchSQL) byPair(f, l, guess string) string {
	return s.byName(f+` f CROSS JOIN `+l+` l`, `lower(c.last_name) = l.term AND lower(c.first_name) = f.term`,
		s.guessed(`(f.first_score + l.last_score) / 2`, guess))
}

// guessed is score (of a branch that scores by name) with a guess applied: the guessed contact
// scores 1, and with a guess every other at most guessedCap. Without a guess it is score.
func (s *searchSQL) guessed(score, guess string) string {
	if guess == "" {
		return score
	}
	id := "c.id"
	if s.page != nil {
		id = "x.id"
	}
	return `(CASE WHEN ` + id + ` = (SELECT id FROM ` + guess + `) THEN 1
		WHEN EXISTS (SELECT FROM ` + guess + `) THEN least(` + score + `, ` + guessedCap + `) ELSE ` + score + ` END)::real`
}

// guessedCap is the highest score of a contact other than a search's guess.
const guessedCap = "0.999"

// guessEditCost is how much less likely a name is meant for each edit between it and the word
// typed, as a natural log: a name one edit away is taken for the word typed when it is more
// than e^guessEditCost (20) times as common. Typo'd records are about 1% of a common name's
// (197 Jhn for 14,850 John in the benchmark's million), and a search is typed with a typo far
// more often than a record is stored with one; 20 was chosen on make bench-search's measure
// (100 left the Jhn Smiths above every John Smith).
const guessEditCost = "3.0"

// guess adds, for a ranked search of two words or more, a table of its guess at the person
// meant: when a word is one or two edits from a far commoner name ("jaes smith", where a
// few typo'd records are named Jaes Smith and thousands James Smith), exact matches still rank
// first, as each is likelier the contact meant than each namesake of the commoner name, but
// the commoner name is likelier the name meant, and one of its contacts belongs on top. Each
// pair of names of the two words (in either order) is weighed as a noisy channel would: how
// common each name is in its place (search_terms' counts, as if first and last names were
// independent) against guessEditCost per edit. The guess is the first contact (by id, among
// those the search's filter selects) of the likeliest pair that has one, when that pair is not
// what was typed; the table is empty otherwise. It returns the table's name, or "" for a
// search that is not ranked.
func (s *searchSQL) guess(ta, tb string) string {
	if s.where == "" {
		return ""
	}
	pair := func(f, l string) string {
		return `SELECT f.term AS f, l.term AS l, f.score < 1 OR l.score < 1 AS corrected,
			ln(1 + f.first_n) + ln(1 + l.last_n) - ` + guessEditCost + ` * (f.edits + l.edits) AS likelihood
			FROM ` + f + ` f CROSS JOIN ` + l + ` l`
	}
	return s.addGuess(pair(ta, tb)+` UNION ALL `+pair(tb, ta), `p.f, p.l`,
		`SELECT c.id FROM contacts c WHERE lower(c.last_name) = p.l AND lower(c.first_name) = p.f AND `+s.where+` ORDER BY c.id LIMIT 1`)
}

// addGuess adds the table of a search's guess: of the candidate names (a query with columns
// corrected, what was not typed, and likelihood; ties by order, columns of p), the eight
// likeliest are probed (probe: the first contact, by id, of candidate p among those the filter
// selects), and the guess is the likeliest's that has one, when it is corrected.
func (s *searchSQL) addGuess(candidates, order, probe string) string {
	s.withGuess = true
	s.ctes = append(s.ctes, `search_guess AS MATERIALIZED (SELECT id FROM (
		SELECT g.id, p.corrected FROM (SELECT * FROM (`+candidates+`) p ORDER BY likelihood DESC, `+order+` LIMIT 8) p
		CROSS JOIN LATERAL (`+probe+`) g
		ORDER BY p.likelihood DESC, `+order+` LIMIT 1) b WHERE corrected)`)
	return "search_guess"
}

// guessOne is guess for a one-word search: each name of t (a terms table) is weighed as a
// first name and as a last name (how common it is in that place, less guessEditCost per edit);
// the guess is the first contact with the likeliest name in its place, when that name is not
// the word typed ("jhon": the first John).
func (s *searchSQL) guessOne(t string) string {
	if s.where == "" {
		return ""
	}
	return s.addGuess(`SELECT term, true AS last, score < 1 AS corrected, ln(1 + last_n) - `+guessEditCost+` * edits AS likelihood FROM `+t+`
		UNION ALL
		SELECT term, false, score < 1, ln(1 + first_n) - `+guessEditCost+` * edits FROM `+t, `p.term, p.last`,
		`SELECT id FROM (
			(SELECT c.id FROM contacts c WHERE p.last AND coalesce(lower(c.last_name), '') = p.term AND `+s.where+` ORDER BY c.id LIMIT 1)
			UNION ALL
			(SELECT c.id FROM contacts c WHERE NOT p.last AND lower(c.first_name) = p.term AND `+s.where+` ORDER BY c.id LIMIT 1)) g
		LIMIT 1`)
}

// byOrgWord renders the contacts with one of the names of terms (the table) among the words of
// their company or title, scored below a first or last name: like byName, read through the
// GIN index of those words (OFFSET 0 keeps a page from reading the whole table in its order
// instead, testing each contact's words). That index finds a word's contacts in no order, so a
// page reads all of them to keep its first: for a common word (orgWalk) a page walks the
// contacts in its order instead.
func (s *searchSQL) byOrgWord(terms string) string {
	if s.page == nil {
		return `SELECT c.id, 0.7 * t.score AS score FROM ` + terms + ` t JOIN contacts c ON ` + orgWordsSQL + ` @> ARRAY[t.term]`
	}
	read := `SELECT c.id FROM (SELECT ` + s.page.columns() + ` FROM contacts c
		WHERE ` + orgWordsSQL + ` @> ARRAY[t.term] AND ` + s.page.where + ` OFFSET 0) c ORDER BY ` + s.page.order + ` LIMIT ` + s.page.n
	if s.page.walk {
		read = s.orgWalk(read)
	}
	return s.band(`SELECT x.id, 0.7 * t.score AS score FROM ` + terms + ` t ` + s.perName(read))
}

// orgWalkSpan is how far a walk of a word's contacts goes: this many times the contacts it
// expects to read to find a page (a page over the word's share of all contacts).
const orgWalkSpan = 4

// orgWalk renders, for a term t of a page whose filter selects every contact, the first
// contacts with t among their company and title words, in the page's order: as index (the
// query reading them through the GIN index) does, or, when t is common enough (its count org_n
// against all contacts, as the planner counts them), by walking the contacts in the page's
// order (its btree) testing each one's words. A walk is chosen when its span (orgWalkSpan) is
// at most twice the word's count, so that at worst a page reads a few times what index reads,
// and typically a small share of it ("prime": 2,300 contacts walked instead of 22,000 read);
// if it found less than a page within its span (the word's contacts are not spread evenly),
// the page reads index after all. A walk that finds a page holds the first contacts with the
// word: it read every contact before the last one it keeps.
func (s *searchSQL) orgWalk(index string) string {
	total := `(SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = 'contacts'::regclass)`
	expected := s.page.n + `::float8 * ` + total + ` / greatest(t.org_n, 1)`
	span := strconv.Itoa(orgWalkSpan)
	key, order := s.page.walkKey()
	return `WITH walk AS MATERIALIZED (SELECT c.id FROM (SELECT c.*, ` + key + ` AS search_key FROM contacts c
			WHERE ` + span + ` * ` + expected + ` <= 2 * t.org_n AND ` + s.page.walkWhere() + `
			ORDER BY ` + s.page.order + ` LIMIT ceil(` + span + ` * ` + expected + `)::bigint) c
		WHERE strpos(lower(coalesce(c.company, '') || ' ' || coalesce(c.title, '')), t.term) > 0 AND ` + orgWordsSQL + ` @> ARRAY[t.term]
		ORDER BY ` + order + ` LIMIT ` + s.page.n + `)
	SELECT id FROM walk
	UNION ALL
	SELECT id FROM (` + index + `) i WHERE (SELECT count(*) FROM walk) < ` + s.page.n
}

// filtered is a condition on contacts c narrowed, for a page, by the filter; in a statement of
// a page that does not run the branches reading all they find at once (see searchPage), it
// selects nothing.
func (s *searchSQL) filtered(cond string) string {
	switch {
	case s.page == nil:
		return cond
	case !s.page.whole:
		return cond + ` AND false`
	}
	return cond + ` AND ` + s.page.where
}

// searchCandidates renders the contacts a search selects with their scores, as a query of
// (id, score) rows, an id possibly more than once, numbering its arguments after args.
func searchCandidates(q string, args []any) (string, []any) {
	s := &searchSQL{args: args}
	byName, byRow := s.branches(q)
	all := append(byName, rowSQL(byRow)...)
	return s.with() + strings.Join(all, "\nUNION ALL\n"), s.args
}

// with is the WITH clause of the search's tables.
func (s *searchSQL) with() string {
	if len(s.ctes) == 0 {
		return ""
	}
	return "WITH " + strings.Join(s.ctes, ",\n") + "\n"
}

// rowBranch is a branch whose score differs contact by contact: base + base * n / length,
// the part of an email or a company (its length, SQL on contacts c) a search's n characters
// cover. For a page it runs only when the best page of the other branches has a score below
// ceiling (2 * base), the branch's highest, and reads only the contacts short enough to reach
// that page's lowest score (rowBound).
type rowBranch struct {
	score, cond string
	ceiling     float64
	length      string
	n           string
}

// rowBranch renders the contacts cond (on contacts c) selects scored base + base * n / length.
func (s *searchSQL) rowBranch(base, n, length, cond string) rowBranch {
	ceiling, _ := strconv.ParseFloat(base, 64)
	return rowBranch{score: base + ` + ` + base + ` * ` + n + ` / ` + length, cond: s.filtered(cond),
		ceiling: 2 * ceiling, length: length, n: n}
}

// sql renders the branch: its contacts and their scores.
func (b rowBranch) sql() string {
	return `SELECT c.id, ` + b.score + ` FROM contacts c WHERE ` + b.cond
}

// branches renders the search's branches: those that score by name (the same score for every
// contact a name finds) and those that score row by row.
func (s *searchSQL) branches(q string) ([]string, []rowBranch) {
	q = strings.ToLower(strings.TrimSpace(q))
	words := searchWords(q)
	var byName []string
	switch len(words) {
	case 0:
		return []string{"SELECT NULL::uuid AS id, NULL::real AS score WHERE false"}, nil
	case 1:
		w := s.arg(words[0])
		t := s.terms(w, words[0], true, maxExpansions)
		guess := s.guessOne(t)
		// The last name as the lastName sort's key (a name is never empty), so that one btree
		// reads a name's contacts in id order and in the sort's order.
		byName = append(byName,
			s.byName(t+` t`, `coalesce(lower(c.last_name), '') = t.term`, s.guessed(`t.last_score`, guess)),
			s.byName(t+` t`, `lower(c.first_name) = t.term`, s.guessed(`t.first_score`, guess)),
			s.byOrgWord(t))
	default:
		// The first and last words against the first and last names, in either order; the
		// pairs of names are read one by one through (last name, first name).
		a, b := s.arg(words[0]), s.arg(words[len(words)-1])
		ta, tb := s.terms(a, words[0], false, maxPairExpansions), s.terms(b, words[len(words)-1], true, maxPairExpansions)
		guess := s.guess(ta, tb)
		for _, p := range [][2]string{{ta, tb}, {tb, ta}} {
			byName = append(byName, s.byPair(p[0], p[1], guess))
		}
		// One word a first or last name, the other a word of the company or title ("john
		// acme"): the contacts with the word in their company or title, among them those
		// with the name (a pair scores a little below a first and last name).
		for _, p := range [][2]string{{ta, tb}, {tb, ta}} {
			name, org := p[0], p[1]
			byName = append(byName, `SELECT c.id, 0.9 * (n.score + o.score) / 2 AS score FROM contacts c
				JOIN `+name+` n ON n.term IN (lower(c.first_name), lower(c.last_name))
				JOIN `+org+` o ON o.term = ANY(`+orgWordsSQL+`)
				WHERE `+s.filtered(orgWordsSQL+` && ARRAY(SELECT term FROM `+org+`)
				AND (lower(c.first_name) = ANY(ARRAY(SELECT term FROM `+name+`)) OR coalesce(lower(c.last_name), '') = ANY(ARRAY(SELECT term FROM `+name+`)))`))
		}
	}
	var byRow []rowBranch
	if len(words) == 1 && utf8.RuneCountInString(q) >= minPrefix {
		p, n := s.arg(likePrefix(q)), s.arg(utf8.RuneCountInString(q))+"::real"
		byRow = append(byRow,
			s.rowBranch("0.5", n, `length(c.email)`, `c.email IS NOT NULL AND lower(c.email) LIKE `+p),
			s.rowBranch("0.3", n, `length(c.email_normalized)`,
				`c.email_normalized IS NOT NULL AND lower(split_part(c.email_normalized, '@', 2)) LIKE `+p),
			s.rowBranch("0.4", n, `length(c.company)`, `c.company IS NOT NULL AND lower(c.company) LIKE `+p))
		if d := digitsOnly(q); d != "" && len(d) >= 4 {
			d = d[max(0, len(d)-10):]
			byRow = append(byRow, s.rowBranch("0.5", s.arg(len(d))+`::real`, `length(regexp_replace(c.phone, '\D', '', 'g'))`,
				`c.phone IS NOT NULL AND reverse(regexp_replace(c.phone, '\D', '', 'g')) LIKE `+s.arg(likePrefix(reverse(d)))))
		}
	}
	qa := s.arg(q)
	if s.page == nil {
		byName = append(byName, `SELECT ct.contact_id, 0.8 * word_similarity(`+qa+`, t.name_key)
			FROM tags t JOIN contact_tags ct ON ct.tag_id = t.id WHERE `+qa+` <% t.name_key`)
	} else {
		byName = append(byName, s.band(`SELECT x.id, 0.8 * word_similarity(`+qa+`, t.name_key) FROM tags t
			`+s.perName(`SELECT c.id FROM contact_tags ct JOIN contacts c ON c.id = ct.contact_id
				WHERE ct.tag_id = t.id AND `+s.page.where+` ORDER BY `+s.page.order+` LIMIT `+s.page.n)+`
			WHERE `+qa+` <% t.name_key`))
	}
	return byName, byRow
}

// orgWordsSQL is the words of contact c's company and title, as migration 00019 indexes them.
const orgWordsSQL = `regexp_split_to_array(lower(coalesce(c.company, '') || ' ' || coalesce(c.title, '')), '[^[:alnum:]]+')`

// digitsOnly is s if it is all ASCII digits, else "".
func digitsOnly(s string) string {
	if strings.Trim(s, "0123456789") != "" {
		return ""
	}
	return s
}

func reverse(s string) string {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}

// rankedCandidates renders a search's contacts once each with their best score, best first,
// ties by id, numbering its arguments after args; where (a condition on contacts c, its
// arguments in args) is what the list shows, which a search's guess (see guess) depends on.
func rankedCandidates(q, where string, args []any) (string, []any) {
	s := &searchSQL{args: args, where: "(" + where + ")"}
	byName, byRow := s.branches(q)
	all := append(byName, rowSQL(byRow)...)
	return s.with() + `SELECT id, max(score)::real AS score FROM (` + strings.Join(all, "\nUNION ALL\n") + `) s GROUP BY id ORDER BY 2 DESC, 1`, s.args
}
