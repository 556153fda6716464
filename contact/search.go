package contact

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// A search (Filter.Q) finds its candidates through indexes only, then ranks them (migration
// 00019 has the indexes and the table of names):
//
//   - names: each word of the query is looked up in search_terms, the distinct first and last
//     names, where a word finds the names within a few edits of it (trigrams, and for short
//     names the first two letters, propose; Levenshtein decides) and the names it starts; a one-word search reads the contacts with one of those
//     first or last names, a longer one those whose first and last name match its first and
//     last words, in either order. A name's score is how close it is to its word.
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

// searchCandidates renders the contacts a search selects with their scores, as a query of
// (id, score) rows, an id possibly more than once, numbering its arguments after args.
func searchCandidates(q string, args []any) (string, []any) {
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	q = strings.ToLower(strings.TrimSpace(q))
	words := searchWords(q)
	// terms renders the array of names close to the word: within a few edits of it and, if
	// prefix (the word being typed), those it starts. Computed once (a materialized CTE), the
	// array lets the contacts be read by index, name by name.
	var ctes []string
	terms := func(word string, w string, prefix bool) string {
		n := utf8.RuneCountInString(w)
		k := maxEdits(n)
		sql := fmt.Sprintf(`SELECT term FROM search_terms WHERE %[1]s %% term AND levenshtein_less_equal(%[1]s, term, %[2]d) <= %[2]d`, word, k)
		// A typo in a short name leaves too few trigrams in common: the names starting with
		// one of the word's first two letters are compared too.
		if r := []rune(w); n >= 2 {
			sql += fmt.Sprintf(` UNION SELECT term FROM search_terms WHERE (term LIKE %[3]s OR term LIKE %[4]s)
				AND length(term) BETWEEN %[5]d AND %[6]d AND levenshtein_less_equal(%[1]s, term, %[2]d) <= %[2]d`,
				word, k, arg(likePrefix(string(r[0]))), arg(likePrefix(string(r[1]))), n-k, n+k)
		}
		if prefix && n >= minPrefix {
			sql += ` UNION SELECT term FROM search_terms WHERE term LIKE ` + arg(likePrefix(w))
		} else {
			sql += ` UNION SELECT ` + word
		}
		name := fmt.Sprintf("search_terms_%d", len(ctes)+1)
		ctes = append(ctes, name+` AS MATERIALIZED (SELECT ARRAY(`+sql+`) AS terms)`)
		return `(SELECT terms FROM ` + name + `)`
	}
	var branches []string
	switch len(words) {
	case 0:
		return "SELECT NULL::uuid AS id, NULL::real AS score WHERE false", args
	case 1:
		w := arg(words[0])
		t := terms(w, words[0], true)
		branches = append(branches,
			`SELECT c.id, search_term_score(`+w+`, x.term) AS score FROM unnest(`+t+`) x (term) JOIN contacts c ON lower(c.last_name) = x.term`,
			`SELECT c.id, search_term_score(`+w+`, x.term) FROM unnest(`+t+`) x (term) JOIN contacts c ON lower(c.first_name) = x.term`,
			`SELECT c.id, 0.7 FROM contacts c WHERE `+orgWordsSQL+` && `+t)
	default:
		// The first and last words against the first and last names, in either order; the
		// pairs of names are read one by one through (last name, first name).
		a, b := arg(words[0]), arg(words[len(words)-1])
		ta, tb := terms(a, words[0], false), terms(b, words[len(words)-1], true)
		for _, p := range [][2]string{{a, b}, {b, a}} {
			first, last := p[0], p[1]
			tFirst, tLast := ta, tb
			if first == b {
				tFirst, tLast = tb, ta
			}
			branches = append(branches, `SELECT c.id, (search_term_score(`+first+`, f.term) + search_term_score(`+last+`, l.term)) / 2 AS score
				FROM unnest(`+tFirst+`) f (term) CROSS JOIN unnest(`+tLast+`) l (term)
				JOIN contacts c ON lower(c.last_name) = l.term AND lower(c.first_name) = f.term`)
		}
	}
	if len(words) == 1 && utf8.RuneCountInString(q) >= minPrefix {
		p, n := arg(likePrefix(q)), arg(utf8.RuneCountInString(q))+"::real"
		branches = append(branches,
			`SELECT id, 0.5 + 0.5 * `+n+` / length(email) FROM contacts WHERE email IS NOT NULL AND lower(email) LIKE `+p,
			`SELECT id, 0.3 + 0.3 * `+n+` / length(email_normalized) FROM contacts
				WHERE email_normalized IS NOT NULL AND lower(split_part(email_normalized, '@', 2)) LIKE `+p,
			`SELECT id, 0.4 + 0.4 * `+n+` / length(company) FROM contacts WHERE company IS NOT NULL AND lower(company) LIKE `+p)
		if d := digitsOnly(q); d != "" && len(d) >= 4 {
			d = d[max(0, len(d)-10):]
			branches = append(branches, `SELECT id, 0.5 + 0.5 * `+arg(len(d))+`::real / length(regexp_replace(phone, '\D', '', 'g'))
				FROM contacts WHERE phone IS NOT NULL AND reverse(regexp_replace(phone, '\D', '', 'g')) LIKE `+arg(likePrefix(reverse(d))))
		}
	}
	branches = append(branches, `SELECT ct.contact_id, 0.8 * word_similarity(`+arg(q)+`, t.name_key)
		FROM tags t JOIN contact_tags ct ON ct.tag_id = t.id WHERE `+arg(q)+` <% t.name_key`)
	with := ""
	if len(ctes) > 0 {
		with = "WITH " + strings.Join(ctes, ", ") + "\n"
	}
	return with + strings.Join(branches, "\nUNION ALL\n"), args
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
// ties by id, numbering its arguments after args.
func rankedCandidates(q string, args []any) (string, []any) {
	cand, args := searchCandidates(q, args)
	return `SELECT id, max(score)::real AS score FROM (` + cand + `) s GROUP BY id ORDER BY 2 DESC, 1`, args
}
