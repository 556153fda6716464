-- Typo search that finds every name one edit away, and prefers the common one (package contact
-- owns all of it; see contact/search.go).
--
-- Two kinds of miss remained in the typo measure of `make bench-search`:
--   - a one-edit typo of a short name that shares no trigram and neither first letter with it
--     ("ee" for lee, "wrd" for ward) was never proposed. Each term now carries its deletion
--     neighbourhood (the term with one letter deleted, for every letter: SymSpell's index), so a
--     word's candidates within one edit are found exactly through one GIN lookup: a term is one
--     edit from a word when one is the other with a letter deleted, or both share a deletion
--     (a substitution or a transposition).
--   - among the names one edit from a typo ("simth": smith, sith, smit...), ties went by id, so
--     a rare name often beat the person's. Each term now carries how many contacts have it as a
--     first name and as a last name; a name that is not the word itself is weighed by how common
--     it is (a noisy-channel prior: the likelier name for the same typo). The counts are
--     statistics, refreshed like ANALYZE (after a large import and by a periodic job), never
--     kept by the write path: a popular name's row would be a lock every writer of that name
--     waits on.

-- +goose Up
-- search_term_deletes is a term with one character deleted, for every character (distinct), for
-- terms of 2 to 32 characters (longer ones are found within one edit by their trigrams).
CREATE FUNCTION search_term_deletes(t text) RETURNS text[] LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN CASE WHEN length(t) BETWEEN 2 AND 32
        THEN ARRAY(SELECT DISTINCT overlay(t PLACING '' FROM i FOR 1) FROM generate_series(1, length(t)) i)
        ELSE '{}'::text[] END;

ALTER TABLE search_terms
    ADD COLUMN first_n integer NOT NULL DEFAULT 0,
    ADD COLUMN last_n integer NOT NULL DEFAULT 0,
    ADD COLUMN deletes text[] GENERATED ALWAYS AS (search_term_deletes(term)) STORED;
-- fastupdate off: a pending list is read whole by every lookup, and terms are added rarely.
CREATE INDEX search_terms_deletes_idx ON search_terms USING gin (deletes) WITH (fastupdate = off);

-- search_term_weight is a term's closeness to a search word (search_term_score) weighed by how
-- many contacts have the term in the name it is matched as (n): the word itself keeps 1; any
-- other name keeps from 90% (no contact has it) to 100% (a million do) of its closeness, on a
-- log scale, so that between two names as close to a typo the common one ranks first, and no
-- prior lifts a name over a closer one by more than a tenth.
CREATE FUNCTION search_term_weight(score real, n integer) RETURNS real LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN score >= 1 THEN 1
        ELSE score * (0.9 + 0.1 * least(1, ln(1 + greatest(n, 0)) / ln(1000000)))
    END;

-- search_terms_count_names refreshes each term's counts of contacts with it as their first and
-- as their last name (one pass over contacts); it returns how many terms changed.
-- +goose StatementBegin
CREATE FUNCTION search_terms_count_names() RETURNS bigint LANGUAGE plpgsql AS $$
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

SELECT search_terms_count_names();
ANALYZE search_terms;

-- +goose Down
DROP FUNCTION search_terms_count_names;
DROP FUNCTION search_term_weight;
DROP INDEX search_terms_deletes_idx;
ALTER TABLE search_terms DROP COLUMN deletes, DROP COLUMN last_n, DROP COLUMN first_n;
DROP FUNCTION search_term_deletes;
