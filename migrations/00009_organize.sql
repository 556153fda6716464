-- +goose Up
-- Organization and search: tags (package tag owns tags and contact_tags), typo-tolerant search
-- over a normalized text of each contact (trigrams), and the indexes of the list's filters and
-- sorts (package contact owns contacts and its indexes).

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- The text a search matches: names, email, company, title and the phone's digits, lower-cased.
-- Immutable, so that an expression index serves it; queries call it with the same arguments.
CREATE FUNCTION contact_search_text(first_name text, last_name text, email text, company text, title text, phone text)
    RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN lower(coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' || coalesce(email, '') || ' '
        || coalesce(company, '') || ' ' || coalesce(title, '') || ' ' || coalesce(regexp_replace(phone, '\D', '', 'g'), ''));

CREATE INDEX contacts_search_idx ON contacts
    USING gin (contact_search_text(first_name, last_name, email, company, title, phone) gin_trgm_ops);

-- Sorts (keyset by the sort key, then id) and filters.
CREATE INDEX contacts_created_idx ON contacts (created_at, id);
CREATE INDEX contacts_updated_idx ON contacts (updated_at, id);
CREATE INDEX contacts_last_name_sort_idx ON contacts ((coalesce(lower(last_name), '')), id);
CREATE INDEX contacts_company_sort_idx ON contacts ((coalesce(lower(company), '')), id);
CREATE INDEX contacts_email_domain_idx ON contacts ((lower(split_part(email_normalized, '@', 2))))
    WHERE email_normalized IS NOT NULL;

-- A tag is kept in the spelling first used; name_key (trimmed, lower-cased) makes it
-- case-insensitive.
CREATE TABLE tags (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    name_key   text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX tags_name_trgm_idx ON tags USING gin (name_key gin_trgm_ops);

CREATE TABLE contact_tags (
    contact_id uuid NOT NULL REFERENCES contacts (id),
    tag_id     uuid NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (contact_id, tag_id)
);

CREATE INDEX contact_tags_tag_idx ON contact_tags (tag_id, contact_id);

-- +goose Down
DROP TABLE contact_tags;
DROP TABLE tags;
DROP INDEX contacts_email_domain_idx;
DROP INDEX contacts_company_sort_idx;
DROP INDEX contacts_last_name_sort_idx;
DROP INDEX contacts_updated_idx;
DROP INDEX contacts_created_idx;
DROP INDEX contacts_search_idx;
DROP FUNCTION contact_search_text;
