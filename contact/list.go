package contact

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Sort orders a list. The zero value is creation order (by id: ids are UUIDv7).
type Sort struct {
	// Key is "" (id), "createdAt", "updatedAt", "lastName", "company" or "relevance".
	Key  string
	Desc bool
}

// sortKeys are the sortable keys and their SQL expressions on contacts c; relevance is the
// search score.
var sortKeys = map[string]string{
	"createdAt": "c.created_at",
	"updatedAt": "c.updated_at",
	"lastName":  "coalesce(lower(c.last_name), '')",
	"company":   "coalesce(lower(c.company), '')",
}

// ParseSort reads a sort parameter: a key, with "-" in front for descending. An empty one is
// creation order, or relevance when searching.
func ParseSort(s string, searching bool) (Sort, error) {
	if s == "" {
		if searching {
			return Sort{Key: "relevance", Desc: true}, nil
		}
		return Sort{}, nil
	}
	desc := strings.HasPrefix(s, "-")
	key := strings.TrimPrefix(s, "-")
	if _, ok := sortKeys[key]; !ok {
		return Sort{}, db.Invalid("sort", "must be createdAt, updatedAt, lastName or company, with - in front for descending")
	}
	return Sort{Key: key, Desc: desc}, nil
}

// String is the sort as the sort parameter names it.
func (s Sort) String() string {
	if s.Desc {
		return "-" + s.Key
	}
	return s.Key
}

// Cursor is where a page ends: the sort it was made for, the last contact's sort key (text)
// and id. A cursor is valid only with the sort it was made for.
type Cursor struct {
	Sort string `json:"s"`
	Key  string `json:"k,omitempty"`
	ID   uuid.UUID
}

type cursorJSON struct {
	Sort string    `json:"s"`
	Key  string    `json:"k,omitempty"`
	ID   uuid.UUID `json:"i"`
}

// Encode makes the opaque cursor a client passes back. Creation order keeps the form it always
// had (the id alone).
func (c *Cursor) Encode() *string {
	if c == nil {
		return nil
	}
	var s string
	if c.Sort == "" {
		s = base64.RawURLEncoding.EncodeToString(c.ID[:])
	} else {
		b, _ := json.Marshal(cursorJSON(*c))
		s = base64.RawURLEncoding.EncodeToString(b)
	}
	return &s
}

// DecodeCursor reads a cursor Encode made for sort; one made for another sort is refused.
func DecodeCursor(s string, sort Sort) (*Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, db.Invalid("cursor", "is not a cursor this endpoint gave")
	}
	var c cursorJSON
	switch {
	case len(b) == 16:
		copy(c.ID[:], b)
	case json.Unmarshal(b, &c) != nil || c.ID == uuid.Nil || c.Sort == "":
		return nil, db.Invalid("cursor", "is not a cursor this endpoint gave")
	}
	if c.Sort != sort.String() {
		return nil, db.Invalid("cursor", "was made for another sort; start again without cursor")
	}
	if sort.Key != "" {
		if _, err := sortValue(sort.Key, c.Key); err != nil {
			return nil, db.Invalid("cursor", "is not a cursor this endpoint gave")
		}
	}
	out := Cursor(c)
	return &out, nil
}

// sortValue converts a cursor's key text to the value its sort compares.
func sortValue(key, text string) (any, error) {
	switch key {
	case "createdAt", "updatedAt":
		return time.Parse(time.RFC3339Nano, text)
	case "relevance":
		return strconv.ParseFloat(text, 32)
	}
	return text, nil
}

// Page says which page of a list to read.
type Page struct {
	Sort  Sort
	Limit int
	After *Cursor
}

// List is a page of contacts with their search scores (by position; nil without a search) and
// the cursor of the next page, nil on the last.
type List struct {
	Contacts []*Contact
	Scores   []float64
	Next     *Cursor
}

// ListContacts returns a page of the contacts f selects in p's order, keyset-paged by the sort
// key and the id. With a search the contacts carry their scores.
func (s *Store) ListContacts(ctx context.Context, f Filter, p Page) (*List, error) {
	if err := db.CheckLimit(p.Limit); err != nil {
		return nil, err
	}
	if p.Sort.Key == "relevance" && f.Q == "" {
		return nil, db.Invalid("sort", "relevance needs a search (q)")
	}
	out := &List{}
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		if err := f.PrepareTx(ctx, tx); err != nil {
			return err
		}
		q, args, err := listQuery(ctx, tx, f, p)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("contact: list: %w", err)
		}
		var keys []string
		for rows.Next() {
			var score *float32
			var sk any
			c, err := ScanContact(extraScanner{rows, []any{&score, &sk}})
			if err != nil {
				rows.Close()
				return fmt.Errorf("contact: list: %w", err)
			}
			out.Contacts = append(out.Contacts, c)
			if score != nil {
				out.Scores = append(out.Scores, float64(*score))
			}
			keys = append(keys, sortKeyText(sk))
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("contact: list: %w", err)
		}
		if len(out.Contacts) > p.Limit {
			out.Contacts, keys = out.Contacts[:p.Limit], keys[:p.Limit]
			if len(out.Scores) > p.Limit {
				out.Scores = out.Scores[:p.Limit]
			}
			last := out.Contacts[p.Limit-1]
			out.Next = &Cursor{Sort: p.Sort.String(), Key: keys[p.Limit-1], ID: last.ID}
			if p.Sort.Key == "" {
				out.Next.Key = ""
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if f.Q == "" {
		out.Scores = nil
	}
	ids := make([]uuid.UUID, len(out.Contacts))
	for i, c := range out.Contacts {
		ids[i] = c.ID
	}
	rels, err := s.relationshipsOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, c := range out.Contacts {
		c.Relationships = rels[c.ID]
	}
	if err := s.fillTags(ctx, nil, out.Contacts...); err != nil {
		return nil, err
	}
	return out, nil
}

// listQuery renders ListContacts' query of a page, reading in tx what a first page in relevance
// order needs to know first (rankedPageTx).
func listQuery(ctx context.Context, tx pgx.Tx, f Filter, p Page) (string, []any, error) {
	// A search reads its candidates best first and each one's contact by id, so that a page in
	// relevance order stops after its last row instead of reading every candidate.
	var inner string
	var args []any
	if f.Q != "" {
		var cand, where string
		rest := f
		rest.Q = ""
		if first, sorted := p.Sort.Key == "relevance" && p.After == nil, p.Sort.Key != "relevance"; first || sorted {
			// A first page in relevance order reads only what it can show (rankedPageTx); a page
			// in another order reads at most a page per name in that order (sortedPageTx).
			var err error
			if first {
				cand, args, err = rankedPageTx(ctx, tx, f.Q, rest, p.Limit+1)
			} else {
				cand, args, err = sortedPageTx(ctx, tx, f.Q, rest, p)
			}
			if err != nil {
				return "", nil, err
			}
			inner = `SELECT ` + contactColumns + `, s.score FROM (` + cand + `) s JOIN contacts c ON c.id = s.id`
		} else {
			where, args = rest.Where(nil)
			cand, args = rankedCandidates(f.Q, where, args)
			inner = `SELECT ` + contactColumns + `, s.score FROM (` + cand + `) s
			CROSS JOIN LATERAL (SELECT * FROM contacts c WHERE c.id = s.id AND ` + where + `) c`
		}
	} else {
		var where string
		where, args = f.Where(nil)
		inner = `SELECT ` + contactColumns + `, NULL::real AS score FROM contacts c WHERE ` + where
	}
	// The inner query computes each row's sort key once; the outer one pages and orders by it.
	key := sortKeys[p.Sort.Key]
	switch p.Sort.Key {
	case "":
		key = "NULL::text"
	case "relevance":
		key = "score"
	}
	q := `SELECT * FROM (SELECT x.*, ` + strings.ReplaceAll(key, "c.", "x.") + ` AS sort_key FROM (` + inner + `) x) c`
	if key == "score" {
		q = `SELECT * FROM (SELECT x.*, x.score AS sort_key FROM (` + inner + `) x) c`
	}
	dir := ""
	if p.Sort.Desc {
		dir = " DESC"
	}
	if p.After != nil {
		var cond string
		cond, args = keysetSQL(p, "c.sort_key", args)
		q += ` WHERE ` + cond
	}
	order := "c.id"
	if p.Sort.Key != "" {
		order = "c.sort_key" + dir + ", c.id"
	}
	args = append(args, p.Limit+1)
	q += fmt.Sprintf(` ORDER BY %s LIMIT $%d`, order, len(args))
	return q, args, nil
}

// keysetSQL renders the condition that a row (key, the SQL of its sort key, and c.id) comes
// after p's cursor in p's order, numbering its arguments after args.
func keysetSQL(p Page, key string, args []any) (string, []any) {
	if p.Sort.Key == "" {
		args = append(args, p.After.ID)
		return fmt.Sprintf("c.id > $%d", len(args)), args
	}
	cmp := ">"
	if p.Sort.Desc {
		cmp = "<"
	}
	v, _ := sortValue(p.Sort.Key, p.After.Key)
	args = append(args, v, p.After.ID)
	cast := ""
	if p.Sort.Key == "relevance" {
		cast = "::real"
	}
	// Ties on the key go by id ascending whatever the direction (relevance's ties too), so the
	// id comparison is always ">".
	return fmt.Sprintf("(%[1]s %[2]s $%[3]d%[4]s OR (%[1]s = $%[3]d%[4]s AND c.id > $%[5]d))",
		key, cmp, len(args)-1, cast, len(args)), args
}

// sortKeyText is a sort key as a cursor keeps it.
func sortKeyText(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case time.Time:
		return v.Format(time.RFC3339Nano)
	case float32:
		return strconv.FormatFloat(float64(v), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 32)
	case string:
		return v
	}
	return fmt.Sprint(v)
}

// extraScanner scans a contact row followed by extra columns.
type extraScanner struct {
	row   pgx.Row
	extra []any
}

// Scan scans dest and then the extra columns.
func (e extraScanner) Scan(dest ...any) error { return e.row.Scan(append(dest, e.extra...)...) }

// PrepareTx readies tx for a query with f's condition (Where): a search sets its similarity
// thresholds for the transaction, and has it read by index (search_terms is small enough that
// the planner would rather scan it, computing trigram similarities for every name).
//
// It also turns JIT compilation off for the transaction: a page of a list is a short query, but
// its estimated cost (with sequential scans discouraged, or a large table) passes jit_above_cost,
// and compiling it took seconds (a one-word search: 6.6 s with JIT, 0.18 s without).
func (f Filter) PrepareTx(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `SELECT set_config('jit', 'off', true)`); err != nil {
		return fmt.Errorf("contact: jit off: %w", err)
	}
	if !f.searches() {
		return nil
	}
	if _, err := tx.Exec(ctx, `SELECT set_config('pg_trgm.similarity_threshold', $1, true),
		set_config('pg_trgm.word_similarity_threshold', $2, true), set_config('enable_seqscan', 'off', true)`,
		strconv.FormatFloat(termSimilarity, 'f', -1, 64), strconv.FormatFloat(tagSimilarity, 'f', -1, 64)); err != nil {
		return fmt.Errorf("contact: search thresholds: %w", err)
	}
	return nil
}
