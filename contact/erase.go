package contact

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/matcher"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ErasedMarker replaces every value an erasure removes from a record that stays (an audit
// entry's before and after, a stored message): the fact of the change is kept, not its values.
const ErasedMarker = "[erased]"

// Personal is what an erasure knows of the people it erases: their contacts and every personal
// value they held, to find the copies other packages keep outside rows keyed by the contact.
type Personal struct {
	// ContactIDs are every contact of the people, merged records included, sorted.
	ContactIDs []uuid.UUID
	// Emails are their canonical emails (matcher.EmailKey) and Phones their E.164 numbers,
	// for the suppression list.
	Emails, Phones []string
	// Needles are every personal value they held, as written and normalized (names, emails,
	// phones, from the contacts, their alternates and their audit history), and the contact
	// ids: a stored text holding one of them is about them.
	Needles []string
	// Words are the needles that are names: they match only as whole words.
	Words []string
	// FirstNames are the names that are a first name alone, also matched as whole words. Many
	// people share one ("James"): it says a text is about these people only with another of
	// their values in the same row (their last name next to it makes their whole name, a Word).
	// Mentions ignores them; ScrubJSON scrubs them from a row that Mentions the people. The
	// first name of a contact with no last name is its whole name: a Word, not one of these.
	FirstNames []string

	once sync.Once
	vf   *valueFinder
}

// PersonTx resolves contacts to the whole people they are: the contact at the end of each one's
// chain of merges and every contact merged into it, directly or down a chain. It locks them in
// id order and returns them sorted, without those erased already. An unknown id is KindNotFound.
func PersonTx(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) ([]uuid.UUID, error) {
	var found int
	var all []uuid.UUID
	err := tx.QueryRow(ctx, `
		WITH RECURSIVE up (id, merged_into, start, depth) AS (
			SELECT id, merged_into, id, 0 FROM contacts WHERE id = ANY($1)
			UNION ALL
			SELECT c.id, c.merged_into, up.start, up.depth + 1 FROM contacts c JOIN up ON c.id = up.merged_into
			WHERE up.depth < 1000),
		roots AS (SELECT DISTINCT ON (start) id FROM up ORDER BY start, depth DESC),
		down AS (
			SELECT id FROM roots
			UNION SELECT c.id FROM contacts c JOIN down d ON c.merged_into = d.id)
		SELECT (SELECT count(DISTINCT start) FROM up), coalesce(array_agg(id ORDER BY id), '{}') FROM down`, ids).Scan(&found, &all)
	if err != nil {
		return nil, fmt.Errorf("contact: people of %v: %w", ids, err)
	}
	if distinct := len(slices.Compact(slices.SortedFunc(slices.Values(ids), db.CompareUUID))); found < distinct {
		return nil, db.NotFound("contact not found among %d ids", len(ids))
	}
	rows, err := tx.Query(ctx, `SELECT id FROM contacts WHERE id = ANY($1) AND status <> 'erased' ORDER BY id FOR UPDATE`, all)
	if err != nil {
		return nil, fmt.Errorf("contact: lock people: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("contact: lock people: %w", err)
	}
	return out, nil
}

// personalFields are the audited fields whose values are personal and worth looking for.
// A street is looked for as a whole phrase, like a name; a city, region, postal code or country
// alone says nothing of the person and is not.
var personalFields = []string{"firstName", "lastName", "email", "phone", "normalized.email", "normalized.phone", "street"}

// PersonalTx reads every personal value the contacts hold or held: their fields, normalized
// forms, alternates, extra and custom values (those shaped like an email or a phone) and the values of their audit history. defaultRegion reads
// phones not normalized yet.
func PersonalTx(ctx context.Context, tx pgx.Tx, ids []uuid.UUID, defaultRegion string) (*Personal, error) {
	p := &Personal{ContactIDs: ids}
	rows, err := tx.Query(ctx, `
		SELECT CASE WHEN c.last_name IS NULL THEN 'name' ELSE 'first' END, c.first_name FROM contacts c WHERE c.id = ANY($1) AND c.first_name IS NOT NULL
		UNION SELECT 'name', v FROM contacts c, unnest(ARRAY[c.last_name, c.first_name || ' ' || c.last_name]) v
			WHERE c.id = ANY($1) AND v IS NOT NULL
		UNION SELECT 'name', c.street FROM contacts c WHERE c.id = ANY($1) AND c.street IS NOT NULL
		UNION SELECT 'email', v FROM contacts c, unnest(ARRAY[c.email, c.email_normalized]) v WHERE c.id = ANY($1) AND v IS NOT NULL
		UNION SELECT 'phone', v FROM contacts c, unnest(ARRAY[c.phone, c.phone_e164]) v WHERE c.id = ANY($1) AND v IS NOT NULL
		UNION SELECT a.kind, v FROM contact_alternates a, unnest(ARRAY[a.value, a.normalized]) v
			WHERE (a.contact_id = ANY($1) OR a.from_contact_id = ANY($1)) AND v IS NOT NULL
		UNION SELECT 'extra', v FROM contacts c, jsonb_path_query(c.extra, 'strict $.**') j, LATERAL (SELECT j #>> '{}' AS v) x
			WHERE c.id = ANY($1) AND c.extra IS NOT NULL AND jsonb_typeof(j) = 'string'
		UNION SELECT 'extra', v FROM contacts c, jsonb_path_query(c.custom_fields, 'strict $.**') j, LATERAL (SELECT j #>> '{}' AS v) x
			WHERE c.id = ANY($1) AND jsonb_typeof(j) = 'string'
		UNION SELECT CASE WHEN f.k LIKE '%mail' THEN 'email' WHEN f.k LIKE '%hone' THEN 'phone' WHEN f.k = 'firstName' THEN 'first'
				ELSE 'name' END, v
			FROM audit_log l, jsonb_each(l.changes) f(k, ch), unnest(ARRAY[ch ->> 'before', ch ->> 'after']) v
			WHERE l.contact_id = ANY($1) AND l.entity_type = 'contact' AND f.k = ANY($2)
				AND jsonb_typeof(ch) = 'object' AND v IS NOT NULL`, ids, personalFields)
	if err != nil {
		return nil, fmt.Errorf("contact: personal values: %w", err)
	}
	type kv struct{ kind, v string }
	vals, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kv, error) {
		var x kv
		err := r.Scan(&x.kind, &x.v)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("contact: personal values: %w", err)
	}
	needles, words, firsts, emails, phones := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, id := range ids {
		needles[id.String()] = true
	}
	for _, x := range vals {
		v := strings.TrimSpace(x.v)
		if len([]rune(v)) < 2 {
			continue
		}
		kind := x.kind
		if kind == "extra" {
			switch {
			case strings.Contains(v, "@"):
				kind = "email"
			case matcher.PhoneDigits(v) >= 7:
				kind = "phone"
			default:
				continue
			}
		}
		switch kind {
		case "name":
			words[strings.ToLower(v)] = true
		case "first":
			firsts[strings.ToLower(v)] = true
		case "email":
			needles[strings.ToLower(v)] = true
			if k := matcher.EmailKey(v); k != "" {
				emails[k] = true
			}
		case "phone":
			needles[strings.ToLower(v)] = true
			if ph := matcher.NormalizePhone(v, defaultRegion); ph.E164 != "" {
				phones[ph.E164] = true
				needles[ph.E164] = true
				needles[strings.TrimPrefix(ph.E164, "+")] = true
			}
		}
	}
	for w := range words {
		delete(firsts, w) // a last name elsewhere: it says enough alone
	}
	p.Needles, p.Words, p.FirstNames = sortedKeys(needles), sortedKeys(words), sortedKeys(firsts)
	p.Emails, p.Phones = sortedKeys(emails), sortedKeys(phones)
	return p, nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// EraseTx turns the contacts (locked by PersonTx) into tombstones: every personal column is
// null, the status is erased, erased_at and erased_by say when and by whom. Their alternates go;
// their audit entries stay with every value replaced by ErasedMarker, so that the trail still
// says what changed and when; each gets an "erase" entry (its contact.erased event names the
// id alone). Other concerns' rows are not touched: see package erasure.
func EraseTx(ctx context.Context, tx pgx.Tx, ids []uuid.UUID, actor string) error {
	if len(ids) == 0 {
		return nil
	}
	set := make([]string, 0, len(Fields))
	for _, f := range Fields {
		set = append(set, f.Column+" = NULL")
	}
	b := &pgx.Batch{}
	b.Queue(`UPDATE audit_log SET changes = coalesce((SELECT jsonb_object_agg(k, CASE
			WHEN jsonb_typeof(v) = 'object' AND (v ? 'before' OR v ? 'after') THEN jsonb_build_object(
				'before', CASE WHEN v -> 'before' IS NULL OR v -> 'before' = 'null' THEN 'null'::jsonb ELSE to_jsonb($2::text) END,
				'after', CASE WHEN v -> 'after' IS NULL OR v -> 'after' = 'null' THEN 'null'::jsonb ELSE to_jsonb($2::text) END)
			ELSE to_jsonb($2::text) END) FROM jsonb_each(changes) AS e(k, v)), '{}')
		WHERE contact_id = ANY($1)`, ids, ErasedMarker)
	b.Queue(`DELETE FROM contact_alternates WHERE contact_id = ANY($1) OR from_contact_id = ANY($1)`, ids)
	b.Queue(`UPDATE contacts SET `+strings.Join(set, ", ")+`, preferences = '{}', extra = NULL, custom_fields = '{}', contact_type = NULL, email_normalized = NULL,
			phone_e164 = NULL, phone_extension = NULL, phone_valid = NULL, normalized_at = NULL,
			status = 'erased', erased_at = now(), erased_by = $2, version = version + 1, updated_at = now()
		WHERE id = ANY($1)`, ids, actor)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("contact: erase: %w", err)
	}
	a := &Audit{actor: actor}
	for _, id := range ids {
		a.Add("erase", "contact", id, &id, nil)
	}
	return a.Flush(ctx, tx)
}

// erasedError is the KindGone error of an erased contact.
func erasedError(id uuid.UUID) error { return db.Gone("contact %s was erased", id) }

// Mentions reports whether s holds one of p's values: a needle anywhere, a name as a whole
// word, ignoring case; a first name alone is not enough (FirstNames). It reads s once however
// many values p has.
func (p *Personal) Mentions(s string) bool {
	return p.finder().find(strings.ToLower(s)) == foundValue
}

func lastRune(s string) rune {
	r, _ := utf8.DecodeLastRuneInString(s)
	return r
}

func firstRune(s string) rune {
	r, _ := utf8.DecodeRuneInString(s)
	return r
}

func wordRune(r rune) bool {
	return r != utf8.RuneError && (r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r))
}

// MentionsInRow reports whether s, a part of a row that Mentions p's values as a whole, holds
// one of them: a first name alone counts here (FirstNames).
func (p *Personal) MentionsInRow(s string) bool {
	return p.finder().find(strings.ToLower(s)) >= foundFirstName
}

// ScrubJSON returns raw with every string value that Mentions one of p's values replaced by
// ErasedMarker and every object entry whose key mentions them removed, and whether it changed
// anything. When raw as a whole Mentions them, a string or key holding only one of their first
// names goes too: in a row about them, it is theirs. Other keys and values stay.
func (p *Personal) ScrubJSON(raw []byte) ([]byte, bool, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, false, fmt.Errorf("contact: scrub: %w", err)
	}
	vf := p.finder()
	enough := foundValue
	if vf.find(strings.ToLower(string(raw))) == foundValue {
		enough = foundFirstName
	}
	mentions := func(s string) bool { return vf.find(strings.ToLower(s)) >= enough }
	changed := false
	var walk func(v any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case string:
			if mentions(x) {
				changed = true
				return ErasedMarker
			}
		case []any:
			for i := range x {
				x[i] = walk(x[i])
			}
		case map[string]any:
			for k := range x {
				if mentions(k) {
					// A key that is a value (a model's term counts): the entry goes.
					delete(x, k)
					changed = true
					continue
				}
				x[k] = walk(x[k])
			}
		}
		return v
	}
	v = walk(v)
	if !changed {
		return raw, false, nil
	}
	out, err := json.Marshal(v)
	return out, true, err
}

// MergePartnersTx returns the contacts that shared a merge with the people of p and are not
// among them: only their rows can hold copies of the people's values (an undone merge's
// survivor held them while merged). Found through the merges' indexes.
func MergePartnersTx(ctx context.Context, tx pgx.Tx, p *Personal) ([]uuid.UUID, error) {
	var out []uuid.UUID
	err := tx.QueryRow(ctx, `SELECT coalesce(array_agg(DISTINCT x), '{}') FROM merges m, unnest(m.survivor_id || m.merged_ids) x
		WHERE (m.survivor_id = ANY($1) OR m.merged_ids && $1) AND x <> ALL($1)`, p.ContactIDs).Scan(&out)
	if err != nil {
		return nil, fmt.Errorf("contact: merge partners: %w", err)
	}
	return out, nil
}

// ScrubAuditTx replaces p's values in the audit entries of the other contacts that shared a
// merge with them (an undone merge's entries on the survivor, whose before or after held the
// erased person's values). The erased contacts' own entries are EraseTx's.
func ScrubAuditTx(ctx context.Context, tx pgx.Tx, p *Personal) error {
	partners, err := MergePartnersTx(ctx, tx, p)
	if err != nil || len(partners) == 0 {
		return err
	}
	return ScrubJSONRowsTx(ctx, tx, p, "audit_log", "id bigint", "changes", "t.contact_id = ANY($1)", partners)
}

// ScrubJSONRowsTx replaces p's values in column col (jsonb) of the rows of table (keyed by key)
// that cond selects (SQL over t and $1, arg; rows found through an index, such as a contact
// id's):
// each is scrubbed with ScrubJSON and written back if it changed. key is the key column and its
// type ("id bigint"). For packages' own tables only.
func ScrubJSONRowsTx(ctx context.Context, tx pgx.Tx, p *Personal, table, key, col, cond string, arg any) error {
	name, _, _ := strings.Cut(key, " ")
	return scrubJSON(ctx, tx, p, table, key, col, false, func(dest []any, each func() error) error {
		rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT t.%[2]s::text, t.%[3]s FROM %[1]s t WHERE %[4]s ORDER BY t.%[2]s FOR UPDATE`,
			table, name, col, cond), arg)
		if err != nil {
			return err
		}
		_, err = pgx.ForEachRow(rows, dest, each)
		return err
	})
}

// ScrubJSONTextTx replaces p's values in column col (jsonb) of the rows of table (keyed by key)
// whose text expr (over t, with a trigram index: gin_trgm_ops) may hold them: the rows are
// found through the index (TextHitsSQL), each is scrubbed with ScrubJSON and written back if
// it changed. key is as ScrubJSONRowsTx's. For packages' own tables only.
func ScrubJSONTextTx(ctx context.Context, tx pgx.Tx, p *Personal, table, key, col, expr string) error {
	pats := p.LikePatterns()
	if len(pats) == 0 {
		return nil
	}
	name, _, _ := strings.Cut(key, " ")
	return scrubJSON(ctx, tx, p, table, key, col, true, func(dest []any, each func() error) error {
		return TextHitsTx(ctx, tx, table, expr, "t."+name+"::text AS k, t."+col, pats, dest, each)
	})
}

// TextHitsSQL is a query of cols (over t) of the rows of table (as t) whose text expr is ILIKE
// one of the patterns $1 (LikePatterns), each row once. Each pattern is a probe of its own:
// a trigram index only proposes rows, so each row it proposes is checked again, and against
// one pattern that costs one comparison where ILIKE ANY would try every pattern (thousands
// for a retention batch) on every row. Run it with TextHitsTx.
func TextHitsSQL(table, expr, cols string) string {
	return fmt.Sprintf(`SELECT DISTINCT h.* FROM unnest($1::text[]) AS n(pat)
		CROSS JOIN LATERAL (SELECT %[3]s FROM %[1]s t WHERE %[2]s ILIKE n.pat) h`, table, expr, cols)
}

// TextHitsTx runs TextHitsSQL(table, expr, cols) with the patterns pats, scanning each row into
// dest and calling fn. Each probe is a bitmap scan of expr's trigram index, so that the rows read
// are those that may hold the values, whatever the table's size: the planner would rather test
// every row of a small table against every pattern, which took seconds on 2,000 rows.
func TextHitsTx(ctx context.Context, tx pgx.Tx, table, expr, cols string, pats []string, dest []any, fn func() error) error {
	if _, err := tx.Exec(ctx, `SELECT set_config('enable_seqscan', 'off', true)`); err != nil {
		return fmt.Errorf("contact: look up %s: %w", table, err)
	}
	rows, err := tx.Query(ctx, TextHitsSQL(table, expr, cols), pats)
	if err != nil {
		return fmt.Errorf("contact: look up %s: %w", table, err)
	}
	if _, err := pgx.ForEachRow(rows, dest, fn); err != nil {
		return fmt.Errorf("contact: look up %s: %w", table, err)
	}
	if _, err := tx.Exec(ctx, `SELECT set_config('enable_seqscan', 'on', true)`); err != nil {
		return fmt.Errorf("contact: look up %s: %w", table, err)
	}
	return nil
}

// scrubJSON scrubs, in column col of table, the rows find yields (through dest, then each):
// those whose value Mentions p are scrubbed with ScrubJSON and written back if they changed.
//
// With relock, the rows found (read without a lock) are locked in key order and scrubbed from
// what they hold then, for tables whose rows are updated after they are written (a sync run's
// errors grow while it runs): a write committed in between is not lost.
func scrubJSON(ctx context.Context, tx pgx.Tx, p *Personal, table, key, col string, relock bool,
	find func(dest []any, each func() error) error) error {
	var sc scrubbed
	err := find([]any{&sc.k, &sc.raw}, func() error { return sc.add(p, true) })
	keys, vals := sc.keys, sc.vals
	if err != nil {
		return fmt.Errorf("contact: scrub %s: %w", table, err)
	}
	if len(keys) == 0 {
		return nil
	}
	// The key is compared in its own type (its name is "column type"), so that its index finds
	// the rows.
	name, typ, _ := strings.Cut(key, " ")
	if relock {
		if keys, vals, err = relockScrub(ctx, tx, p, table, name, col, typ, keys); err != nil {
			return err
		}
		if len(keys) == 0 {
			return nil
		}
	}
	_, err = tx.Exec(ctx, fmt.Sprintf(`UPDATE %[1]s t SET %[3]s = u.v::jsonb FROM unnest($1::text[], $2::text[]) AS u(k, v)
		WHERE t.%[2]s = u.k::%[4]s`, table, name, col, typ), keys, vals)
	if err != nil {
		return fmt.Errorf("contact: scrub %s: %w", table, err)
	}
	return nil
}

// relockScrub locks the rows of table with keys (in key order) and scrubs what they hold now;
// it returns the keys and values to write.
func relockScrub(ctx context.Context, tx pgx.Tx, p *Personal, table, name, col, typ string, found []string) ([]string, []string, error) {
	rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT t.%[2]s::text, t.%[3]s FROM %[1]s t WHERE t.%[2]s = ANY($1::%[4]s[])
		ORDER BY t.%[2]s FOR UPDATE`, table, name, col, typ), found)
	if err != nil {
		return nil, nil, fmt.Errorf("contact: scrub %s: %w", table, err)
	}
	var sc scrubbed
	if _, err = pgx.ForEachRow(rows, []any{&sc.k, &sc.raw}, func() error { return sc.add(p, false) }); err != nil {
		return nil, nil, fmt.Errorf("contact: scrub %s: %w", table, err)
	}
	return sc.keys, sc.vals, nil
}

// scrubbed collects the rows a scrub changes: the row read into k and raw, and, when p's
// values were in it, its key and scrubbed value.
type scrubbed struct {
	k          string
	raw        []byte
	keys, vals []string
}

// add scrubs the row read (when check, only one that Mentions p) and keeps it if it changed.
func (sc *scrubbed) add(p *Personal, check bool) error {
	if sc.raw == nil || (check && !p.Mentions(string(sc.raw))) {
		return nil
	}
	out, changed, err := p.ScrubJSON(sc.raw)
	if err != nil {
		return fmt.Errorf("%s: %w", sc.k, err)
	}
	if changed {
		sc.keys, sc.vals = append(sc.keys, sc.k), append(sc.vals, string(out))
	}
	return nil
}

// Suppressor says whether people are on the suppression list (package erasure keeps it): an
// import, a sync or a create never re-creates a suppressed person.
type Suppressor interface {
	// SuppressedTx reports, by position in vs, whether each one's email or phone is suppressed,
	// in one query for all. defaultRegion reads phones without a country code.
	SuppressedTx(ctx context.Context, q db.Querier, vs []Values, defaultRegion string) ([]bool, error)
}

// SuppressedMessage is the reason an item is refused because its person is suppressed.
const SuppressedMessage = "suppressed"

// SuppressedError is the KindSuppressed error of a suppressed person.
func SuppressedError(format string, args ...any) error {
	return &db.Error{Kind: db.KindSuppressed, Message: fmt.Sprintf(format, args...)}
}
