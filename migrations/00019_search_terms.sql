-- +goose Up
-- Search that stays fast at a million contacts and cheap to import (package contact owns all of
-- it). 00009 indexed one long text per contact with trigrams: a typo search read ~76k candidates
-- and recomputed each one's text, and every imported row wrote ~65 trigram entries.
--
-- Now a search looks up each word of the query in search_terms, the small set of distinct
-- first and last names (a few tens of thousands at a million contacts), forgiving typos there
-- (trigrams to find near words, Levenshtein to keep the close ones), and then reads the
-- contacts with those exact names through plain btrees. Emails, companies and phone digits are
-- prefix searches on btrees (phone digits reversed, so the last digits are a prefix). Every
-- index here is a btree but the one on search_terms, and every write path keeps them: indexes
-- by definition, search_terms by the statement triggers below (API, import COPY, merge, sync).

CREATE EXTENSION IF NOT EXISTS fuzzystrmatch;

DROP INDEX contacts_search_idx;
DROP FUNCTION contact_search_text;

-- The company filter (lower(company) = ...) and the company prefix search share one index;
-- it replaces 00001's contacts_company_idx.
DROP INDEX contacts_company_idx;
CREATE INDEX contacts_company_prefix_idx ON contacts (lower(company) text_pattern_ops, id) WHERE company IS NOT NULL;

-- The email domain filter (=) and a search for a domain's start (acme finds a@acme.com) share
-- one index; it replaces 00009's.
DROP INDEX contacts_email_domain_idx;
CREATE INDEX contacts_email_domain_idx ON contacts ((lower(split_part(email_normalized, '@', 2))) text_pattern_ops)
    WHERE email_normalized IS NOT NULL;

-- Names: (last, first) serves two-word searches in either order, first alone one-word ones.
CREATE INDEX contacts_name_search_idx ON contacts (lower(last_name), lower(first_name), id);
CREATE INDEX contacts_first_name_search_idx ON contacts (lower(first_name), id);
CREATE INDEX contacts_email_prefix_idx ON contacts (lower(email) text_pattern_ops) WHERE email IS NOT NULL;
-- The words of the company and the title (a few per contact).
CREATE INDEX contacts_org_words_idx ON contacts
    USING gin (regexp_split_to_array(lower(coalesce(company, '') || ' ' || coalesce(title, '')), '[^[:alnum:]]+'));
CREATE INDEX contacts_phone_suffix_idx ON contacts (reverse(regexp_replace(phone, '\D', '', 'g')) text_pattern_ops)
    WHERE phone IS NOT NULL;

-- The distinct lower-cased first and last names, and company and title words, ever written. Not unique: concurrent writers
-- never wait on each other for a new name, and a rare duplicate only repeats a lookup. Names
-- no longer used stay (they find nothing).
CREATE TABLE search_terms (
    term text NOT NULL
);
CREATE INDEX search_terms_term_idx ON search_terms (term text_pattern_ops);
CREATE INDEX search_terms_trgm_idx ON search_terms USING gin (term gin_trgm_ops);

-- How close a name (term) is to a word of a search, from 0 to 1: 1 for the word itself, the
-- share of the name it covers for a name the word starts, less for each edit otherwise.
CREATE FUNCTION search_term_score(word text, term text) RETURNS real LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE
        WHEN term = word THEN 1
        WHEN starts_with(term, word) THEN 0.6 + 0.4 * length(word) / length(term)
        WHEN length(word) > 255 OR length(term) > 255 THEN 0
        ELSE greatest(0, 1 - levenshtein(word, term)::real / greatest(length(word), length(term)))
    END;

-- +goose StatementBegin
CREATE FUNCTION contacts_add_search_terms() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_terms (term)
    SELECT DISTINCT t FROM new_rows n, LATERAL (VALUES (lower(n.first_name)), (lower(n.last_name))
        UNION ALL SELECT unnest(regexp_split_to_array(lower(coalesce(n.company, '') || ' ' || coalesce(n.title, '')), '[^[:alnum:]]+'))) v (t)
    WHERE t <> '' AND NOT EXISTS (SELECT 1 FROM search_terms s WHERE s.term = v.t);
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER contacts_search_terms_insert AFTER INSERT ON contacts
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION contacts_add_search_terms();
CREATE TRIGGER contacts_search_terms_update AFTER UPDATE ON contacts
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION contacts_add_search_terms();

INSERT INTO search_terms (term)
SELECT DISTINCT t FROM contacts c, LATERAL (VALUES (lower(c.first_name)), (lower(c.last_name))
    UNION ALL SELECT unnest(regexp_split_to_array(lower(coalesce(c.company, '') || ' ' || coalesce(c.title, '')), '[^[:alnum:]]+'))) v (t)
WHERE t <> '';
ANALYZE search_terms;

-- +goose Down
DROP TRIGGER contacts_search_terms_update ON contacts;
DROP TRIGGER contacts_search_terms_insert ON contacts;
DROP FUNCTION contacts_add_search_terms;
DROP TABLE search_terms;
DROP FUNCTION search_term_score;
DROP INDEX contacts_phone_suffix_idx;
DROP INDEX contacts_org_words_idx;
DROP INDEX contacts_email_prefix_idx;
DROP INDEX contacts_first_name_search_idx;
DROP INDEX contacts_name_search_idx;
DROP INDEX contacts_company_prefix_idx;
DROP INDEX contacts_email_domain_idx;
CREATE INDEX contacts_email_domain_idx ON contacts ((lower(split_part(email_normalized, '@', 2))))
    WHERE email_normalized IS NOT NULL;
CREATE INDEX contacts_company_idx ON contacts (lower(company), id) WHERE company IS NOT NULL;
CREATE FUNCTION contact_search_text(first_name text, last_name text, email text, company text, title text, phone text)
    RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN lower(coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' || coalesce(email, '') || ' '
        || coalesce(company, '') || ' ' || coalesce(title, '') || ' ' || coalesce(regexp_replace(phone, '\D', '', 'g'), ''));
CREATE INDEX contacts_search_idx ON contacts
    USING gin (contact_search_text(first_name, last_name, email, company, title, phone) gin_trgm_ops);
