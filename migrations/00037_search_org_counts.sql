-- A search's company and title words read a page without reading every contact of a common word
-- (package contact, search.go).
--
-- A one-word search reads, per name close to its word, the first contacts (by id, or in a
-- sorted page's order) with the name among their company and title words. The GIN index of
-- those words finds them in no order, so a word of 20,000 contacts ("prime", the first word of
-- hundreds of companies) read all 20,000 from the table for its first 50: most of a company
-- search's time. Each term now also counts its occurrences among contacts' company and title
-- words (org_n, a statistic refreshed with the name counts); for a common word a page walks
-- the contacts in its order instead, testing each one's words, which finds a page within a few
-- thousand rows.
--
-- The company prefix branch scores a contact 0.4 + 0.4 * length(q) / length(company): only the
-- shortest companies can beat a page of exact names and words, so it reads only the companies
-- short enough, and this index tells their length without reading the table.

-- +goose Up
ALTER TABLE search_terms ADD COLUMN org_n integer NOT NULL DEFAULT 0;

CREATE INDEX contacts_company_prefix_len_idx ON contacts (lower(company) text_pattern_ops, length(company))
    WHERE company IS NOT NULL;

-- search_terms_count_names refreshes each term's counts of contacts with it as their first and
-- as their last name, and of its occurrences among the words of contacts' company and title (a
-- word twice in one contact's counts twice, rarely: counting contacts took twice as long); one
-- pass over contacts; it returns how many terms changed.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION search_terms_count_names() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    changed bigint;
BEGIN
    UPDATE search_terms s SET first_n = coalesce(x.first_n, 0), last_n = coalesce(x.last_n, 0), org_n = coalesce(x.org_n, 0)
    FROM search_terms s2
    LEFT JOIN (
        SELECT t, sum(f)::integer AS first_n, sum(l)::integer AS last_n, sum(o)::integer AS org_n FROM (
            SELECT lower(first_name) AS t, 1 AS f, 0 AS l, 0 AS o FROM contacts WHERE first_name IS NOT NULL
            UNION ALL
            SELECT lower(last_name), 0, 1, 0 FROM contacts WHERE last_name IS NOT NULL
            UNION ALL
            SELECT unnest(regexp_split_to_array(lower(coalesce(company, '') || ' ' || coalesce(title, '')), '[^[:alnum:]]+')), 0, 0, 1
            FROM contacts
            ) u
        GROUP BY t) x ON x.t = s2.term
    WHERE s.ctid = s2.ctid AND (s.first_n, s.last_n, s.org_n) IS DISTINCT FROM (coalesce(x.first_n, 0), coalesce(x.last_n, 0), coalesce(x.org_n, 0));
    GET DIAGNOSTICS changed = ROW_COUNT;
    RETURN changed;
END $$;
-- +goose StatementEnd

SELECT search_terms_count_names();
ANALYZE search_terms;

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION search_terms_count_names() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    changed bigint;
BEGIN
    UPDATE search_terms s SET first_n = coalesce(x.first_n, 0), last_n = coalesce(x.last_n, 0)
    FROM search_terms s2
    LEFT JOIN (
        SELECT t, sum(f)::integer AS first_n, sum(l)::integer AS last_n FROM (
            SELECT lower(first_name) AS t, 1 AS f, 0 AS l FROM contacts WHERE first_name IS NOT NULL
            UNION ALL
            SELECT lower(last_name), 0, 1 FROM contacts WHERE last_name IS NOT NULL) u
        GROUP BY t) x ON x.t = s2.term
    WHERE s.ctid = s2.ctid AND (s.first_n, s.last_n) IS DISTINCT FROM (coalesce(x.first_n, 0), coalesce(x.last_n, 0));
    GET DIAGNOSTICS changed = ROW_COUNT;
    RETURN changed;
END $$;
-- +goose StatementEnd
DROP INDEX contacts_company_prefix_len_idx;
ALTER TABLE search_terms DROP COLUMN org_n;
