// Command searchbench measures the contact list's search and filters on an imported database
// (DATABASE_URL; import bin/bench-contacts-1000000.csv with `contactd import` first, as
// `make bench-search` does): it gives the contacts generated tags and two custom fields once
// (-seed), then prints a table of latency percentiles of `q` searches and of common filter
// combinations through contact.Store.ListContacts (a page of 50, as the API reads it), and the
// search quality: for generated queries with one typo in a first or last name, how often the
// person is in the top 3.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/app"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

func main() {
	n := flag.Int("n", 200, "queries per row of the latency table")
	quality := flag.Int("quality", 1000, "typo queries of the quality measure")
	latency := flag.Bool("latency", true, "print the latency table (false: the search quality only)")
	only := flag.String("rows", "", "measure only the rows of the latency table whose name contains this")
	seed := flag.Bool("seed", true, "give every contact 0-3 of 40 generated tags and values of two custom fields (industry, employees) first, if none has them")
	flag.Parse()
	if !*latency {
		*n = 0
	}
	if err := run(context.Background(), *n, *quality, *seed, *only); err != nil {
		fmt.Fprintln(os.Stderr, "searchbench:", err)
		os.Exit(1)
	}
}

type sample struct {
	id                        uuid.UUID
	first, last, email, phone string
	company                   string
	entity                    string // the generated person (the CSV's entity column, kept in extra)
}

func run(ctx context.Context, n, quality int, seed bool, only string) error {
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		return err
	}
	defer pool.Close()
	a, err := app.New(pool)
	if err != nil {
		return err
	}
	if seed {
		if err := seedTags(ctx, pool); err != nil {
			return err
		}
		if err := seedCustom(ctx, pool, a); err != nil {
			return err
		}
	}
	// The name counts search weighs typos by, as the job queued at the end of the import (or
	// the hourly one) leaves them; the import here ran without a worker.
	start := time.Now()
	changed, err := contact.RefreshNameCounts(ctx, pool)
	if err != nil {
		return err
	}
	fmt.Printf("name counts refreshed in %v (%d changed)\n", time.Since(start).Round(time.Millisecond), changed)
	var total int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM contacts`).Scan(&total); err != nil {
		return err
	}
	samples, err := sampleContacts(ctx, pool, max(n, quality))
	if err != nil {
		return err
	}
	fmt.Printf("%d contacts, %d sampled\n\n", total, len(samples))
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func() sample { return samples[rng.IntN(len(samples))] }
	tags := []string{"tag-3", "tag-17", "vip", "customer"}
	rows := []struct {
		name  string
		query func() url.Values
	}{
		{"q: full name, one typo", func() url.Values { s := pick(); return url.Values{"q": {typo(rng, s.first) + " " + s.last}} }},
		{"q: email prefix", func() url.Values { s := pick(); e := s.email; return url.Values{"q": {e[:min(len(e), 9)]}} }},
		{"q: phone digits (7)", func() url.Values { s := pick(); d := digits(s.phone); return url.Values{"q": {d[max(0, len(d)-7):]}} }},
		{"q: last name + tag", func() url.Values { s := pick(); return url.Values{"q": {s.last}, "tag": {tags[rng.IntN(len(tags))]}} }},
		{"q: first name (one word)", func() url.Values { return url.Values{"q": {pick().first}} }},
		{"q: name typo + hasPhone", func() url.Values {
			s := pick()
			return url.Values{"q": {s.first + " " + typo(rng, s.last)}, "hasPhone": {"true"}}
		}},
		{"q: company prefix", func() url.Values { s := pick(); return url.Values{"q": {strings.Fields(s.company)[0]}} }},
		{"q + sort=lastName", func() url.Values { s := pick(); return url.Values{"q": {s.last}, "sort": {"lastName"}} }},
		{"company", func() url.Values { return url.Values{"company": {pick().company}} }},
		{"tag", func() url.Values { return url.Values{"tag": {tags[rng.IntN(len(tags))]}} }},
		{"tag + tag", func() url.Values { return url.Values{"tag": {"vip", tags[rng.IntN(2)]}} }},
		{"anyTag + hasPhone", func() url.Values { return url.Values{"anyTag": {"vip", "customer"}, "hasPhone": {"true"}} }},
		{"emailDomain", func() url.Values {
			s := pick()
			return url.Values{"emailDomain": {s.email[strings.Index(s.email, "@")+1:]}}
		}},
		{"tag + emailDomain", func() url.Values { return url.Values{"tag": {"vip"}, "emailDomain": {"gmail.com"}} }},
		{"createdAfter + hasEmail", func() url.Values { return url.Values{"createdAfter": {"2000-01-01"}, "hasEmail": {"true"}} }},
		{"sort=lastName", func() url.Values { return url.Values{"sort": {"lastName"}} }},
		{"sort=-updatedAt + tag", func() url.Values { return url.Values{"sort": {"-updatedAt"}, "tag": {"vip"}} }},
		{"sort=company + company", func() url.Values { return url.Values{"sort": {"company"}, "company": {pick().company}} }},
		{"cf.industry", func() url.Values { return url.Values{"cf.industry": {industries[rng.IntN(len(industries))]}} }},
		{"cf.employees.gte + .lte", func() url.Values {
			lo := rng.IntN(9000)
			return url.Values{"cf.employees.gte": {fmt.Sprint(lo)}, "cf.employees.lte": {fmt.Sprint(lo + 500)}}
		}},
		{"cf.industry + tag", func() url.Values {
			return url.Values{"cf.industry": {industries[rng.IntN(len(industries))]}, "tag": {tags[rng.IntN(len(tags))]}}
		}},
		{"type=account", func() url.Values { return url.Values{"type": {"account"}} }},
		{"type=business + company", func() url.Values { return url.Values{"type": {"business"}, "company": {pick().company}} }},
	}
	if n > 0 {
		fmt.Printf("%-28s %8s %8s %8s %8s %8s\n", "list (page of 50)", "n", "p50 ms", "p95 ms", "p99 ms", "max ms")
	}
	for _, r := range rows {
		if n == 0 {
			break
		}
		if !strings.Contains(r.name, only) {
			continue
		}
		var lat []time.Duration
		for range n {
			q := r.query()
			f, errs := contact.ParseFilter(q)
			if len(errs) > 0 {
				return fmt.Errorf("%s: %v", r.name, errs)
			}
			if err := contact.ResolveCustom(ctx, pool, &f); err != nil {
				return fmt.Errorf("%s: %w", r.name, err)
			}
			sort, err := contact.ParseSort(q.Get("sort"), f.Q != "")
			if err != nil {
				return err
			}
			start := time.Now()
			if _, err := a.Contacts.ListContacts(ctx, f, contact.Page{Sort: sort, Limit: 50}); err != nil {
				return fmt.Errorf("%s %v: %w", r.name, q, err)
			}
			lat = append(lat, time.Since(start))
		}
		slices.Sort(lat)
		pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
		fmt.Printf("%-28s %8d %8.1f %8.1f %8.1f %8.1f\n", r.name, n, pct(0.5), pct(0.95), pct(0.99), pct(1))
	}
	// The quality queries have their own random source: the same queries whether or not the
	// latency table ran first.
	return measureQuality(ctx, pool, a, samples, quality, rand.New(rand.NewPCG(3, 4)))
}

// measureQuality searches for sampled people by first and last name with one typo in one of
// them (a substitution, deletion, insertion or transposition; names of three letters or more)
// and prints how often the person is in the top 3. A name query cannot tell namesakes apart
// (the generated data has thousands of James Smiths), and the generated data holds typo'd
// duplicates of the same person (its entity), so it prints three shares:
//   - the fair measure, read against the 95% target: a top-3 contact is the person (the same
//     entity: the sampled contact or one of its generated duplicates) or has the person's
//     exact first and last name, in either order (what a name query can find: search reads the
//     words of a query as first and last name in either order, and the generated data holds
//     records with the two swapped, "Diaz Barbara" for Barbara Diaz); the same measure with
//     the names in their order only is printed too;
//   - the old measure: a contact with the exact name in the top 3;
//   - the contact itself in the top 3 (ties in score go by id, so among namesakes this is luck);
//
// and how many queries were for a shared name.
func measureQuality(ctx context.Context, pool *pgxpool.Pool, a *app.App, samples []sample, n int, rng *rand.Rand) error {
	if n == 0 {
		return nil
	}
	top3, sameName, fair, fairOrdered, shared, done, exactTypo := 0, 0, 0, 0, 0, 0, 0
	var lat []time.Duration
	var misses []string
	for _, s := range samples {
		if done == n {
			break
		}
		if len([]rune(s.first)) < 3 || len([]rune(s.last)) < 3 {
			continue
		}
		first, last := s.first, s.last
		if rng.IntN(2) == 0 {
			first = typo(rng, first)
		} else {
			last = typo(rng, last)
		}
		start := time.Now()
		list, err := a.Contacts.ListContacts(ctx, contact.Filter{Q: strings.ToLower(first + " " + last)}, contact.Page{Sort: contact.Sort{Key: "relevance", Desc: true}, Limit: 3})
		if err != nil {
			return err
		}
		lat = append(lat, time.Since(start))
		done++
		found, named, swapped, same := false, false, false, false
		for _, c := range list.Contacts {
			if c.ID == s.id {
				found = true
			}
			if f, ok := c.Extra["fields"].(map[string]any); ok && s.entity != "" && f["entity"] == s.entity {
				same = true
			}
			if c.FirstName != nil && c.LastName != nil && strings.EqualFold(*c.FirstName, s.first) && strings.EqualFold(*c.LastName, s.last) {
				named = true
			}
			if c.FirstName != nil && c.LastName != nil && strings.EqualFold(*c.FirstName, s.last) && strings.EqualFold(*c.LastName, s.first) {
				swapped = true
			}
		}
		var namesakes int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM contacts WHERE status = 'active' AND lower(first_name) = lower($1) AND lower(last_name) = lower($2)`,
			s.first, s.last).Scan(&namesakes); err != nil {
			return err
		}
		if namesakes > 1 {
			shared++
		}
		if found {
			top3++
		}
		if found || named {
			sameName++
		}
		if found || named || same {
			fairOrdered++
		}
		if found || named || swapped || same {
			fair++
			continue
		}
		// A miss: is the typo itself the name of other contacts (typo'd records of other
		// people), which then rank first as exact matches?
		var typoNamed int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM contacts WHERE status = 'active' AND lower(first_name) = $1 AND lower(last_name) = $2`,
			strings.ToLower(first), strings.ToLower(last)).Scan(&typoNamed); err != nil {
			return err
		}
		if typoNamed > 0 {
			exactTypo++
		}
		if len(misses) < 10 {
			misses = append(misses, fmt.Sprintf("%q for %s %s (%d named so)", first+" "+last, s.first, s.last, typoNamed))
		}
	}
	slices.Sort(lat)
	fmt.Printf("\nsearch quality: %d queries \"first last\" with one typo in the first or last name (p95 %.1f ms)\n",
		done, float64(lat[int(0.95*float64(len(lat)-1))].Microseconds())/1000)
	fmt.Printf("  queries for a name more than one contact has:                           %5.1f%%\n", 100*float64(shared)/float64(done))
	fmt.Printf("  the person (same entity) or their exact name in the top 3 (fair, target): %5.1f%%\n", 100*float64(fair)/float64(done))
	fmt.Printf("  the same, the name in its order only:                                   %5.1f%%\n", 100*float64(fairOrdered)/float64(done))
	fmt.Printf("  a contact with the person's exact name in the top 3 (old measure):      %5.1f%%\n", 100*float64(sameName)/float64(done))
	fmt.Printf("  the contact itself in the top 3 (namesakes tie by id):                   %5.1f%%\n", 100*float64(top3)/float64(done))
	fmt.Printf("  misses where the typo is itself other contacts' exact name:              %5.1f%%\n", 100*float64(exactTypo)/float64(done))
	if len(misses) > 0 {
		fmt.Printf("  some misses: %s\n", strings.Join(misses, "; "))
	}
	return nil
}

// typo makes one edit in s (lower-cased): a substitution, deletion, insertion or transposition
// that changes it.
func typo(rng *rand.Rand, s string) string {
	orig := []rune(strings.ToLower(s))
	if len(orig) < 2 {
		return s
	}
	for {
		r := slices.Clone(orig)
		i := rng.IntN(len(r) - 1)
		letter := rune('a' + rng.IntN(26))
		switch rng.IntN(4) {
		case 0:
			r[i] = letter
		case 1:
			r = slices.Delete(r, i, i+1)
		case 2:
			r = slices.Insert(r, i, letter)
		default:
			r[i], r[i+1] = r[i+1], r[i]
		}
		if string(r) != string(orig) {
			return string(r)
		}
	}
}

func digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

func sampleContacts(ctx context.Context, pool *pgxpool.Pool, n int) ([]sample, error) {
	rows, err := pool.Query(ctx, `SELECT id, first_name, last_name, email, phone, company, coalesce(extra -> 'fields' ->> 'entity', '')
		FROM contacts TABLESAMPLE SYSTEM (1) REPEATABLE (1)
		WHERE status = 'active' AND first_name IS NOT NULL AND last_name IS NOT NULL AND email IS NOT NULL AND phone IS NOT NULL AND company IS NOT NULL
		LIMIT $1`, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []sample
	for rows.Next() {
		var s sample
		if err := rows.Scan(&s.id, &s.first, &s.last, &s.email, &s.phone, &s.company, &s.entity); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no contacts: import the bench data first")
	}
	return out, rows.Err()
}

// seedTags gives every contact 0-3 of 40 tags (vip and customer among them), by its id's hash,
// when no contact has tags yet. It is benchmark data, written in bulk as the tag store's rows.
func seedTags(ctx context.Context, pool *pgxpool.Pool) error {
	var have bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM contact_tags)`).Scan(&have); err != nil {
		return err
	}
	if have {
		return nil
	}
	start := time.Now()
	_, err := pool.Exec(ctx, `
		INSERT INTO tags (id, name, name_key)
		SELECT gen_random_uuid(), n, n FROM (SELECT 'tag-' || i AS n FROM generate_series(1, 38) i UNION ALL VALUES ('vip'), ('customer')) t
		ON CONFLICT (name_key) DO NOTHING;
		INSERT INTO contact_tags (contact_id, tag_id)
		SELECT DISTINCT c.id, t.ids[1 + abs(hashtext(c.id::text || k)) % 40] FROM contacts c
		CROSS JOIN (SELECT array_agg(id ORDER BY name_key) AS ids FROM tags) t
		CROSS JOIN LATERAL generate_series(1, abs(hashtext(c.id::text)) % 4) k
		ON CONFLICT DO NOTHING;
		ANALYZE contact_tags; ANALYZE tags; ANALYZE contacts;`)
	if err != nil {
		return fmt.Errorf("seed tags: %w", err)
	}
	fmt.Printf("seeded tags in %s\n", time.Since(start).Round(time.Second))
	return nil
}

// industries are the options of the generated enum custom field industry.
var industries = []string{"Software", "Retail", "Finance", "Health", "Energy", "Media", "Logistics", "Education",
	"Manufacturing", "Travel", "Legal", "Government"}

// seedCustom defines two custom fields, industry (an enum) and employees (a number), and gives
// every contact a value of each by its id's hash, when no contact has custom values yet. Like
// the tags it is benchmark data, written in bulk in one statement.
func seedCustom(ctx context.Context, pool *pgxpool.Pool, a *app.App) error {
	var have bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM contacts WHERE custom_fields <> '{}')`).Scan(&have); err != nil {
		return err
	}
	if have {
		return nil
	}
	start := time.Now()
	for _, d := range []contact.CustomField{
		{Key: "industry", Label: "Industry", Type: contact.CustomEnum, Options: industries},
		{Key: "employees", Label: "Employees", Type: contact.CustomNumber},
	} {
		if _, err := a.Contacts.GetCustomField(ctx, d.Key); err == nil {
			continue
		}
		if _, err := a.Contacts.CreateCustomField(ctx, d); err != nil {
			return fmt.Errorf("seed custom field %s: %w", d.Key, err)
		}
	}
	_, err := pool.Exec(ctx, `
		UPDATE contacts SET custom_fields = jsonb_build_object(
			'industry', ($1::text[])[1 + abs(hashtext(id::text || 'i')) % cardinality($1::text[])],
			'employees', abs(hashtext(id::text || 'e')) % 10000)`, industries)
	if err != nil {
		return fmt.Errorf("seed custom values: %w", err)
	}
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE contacts`); err != nil {
		return fmt.Errorf("seed custom values: %w", err)
	}
	fmt.Printf("seeded custom fields in %s\n", time.Since(start).Round(time.Second))
	return nil
}
