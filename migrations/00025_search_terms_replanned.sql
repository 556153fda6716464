-- The statement trigger that keeps search_terms filled planned its insert once per session and
-- kept the plan: a query without parameters always gets the generic plan, made when
-- search_terms was empty (a nested-loop anti join over a sequential scan of it). An import's
-- connection then compared every new word with every known term: the second 20,000-row chunk of
-- a million-row import ran for minutes. The insert is now run with EXECUTE, so it is planned at
-- each statement with the table's current size: an index probe for a few rows, a hash anti join
-- for an import chunk.

-- +goose Up
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION contacts_add_search_terms() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE $q$
    INSERT INTO search_terms (term)
    SELECT DISTINCT t FROM new_rows n, LATERAL (VALUES (lower(n.first_name)), (lower(n.last_name))
        UNION ALL SELECT unnest(regexp_split_to_array(lower(coalesce(n.company, '') || ' ' || coalesce(n.title, '')), '[^[:alnum:]]+'))) v (t)
    WHERE t <> '' AND NOT EXISTS (SELECT 1 FROM search_terms s WHERE s.term = v.t)
    $q$;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION contacts_add_search_terms() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_terms (term)
    SELECT DISTINCT t FROM new_rows n, LATERAL (VALUES (lower(n.first_name)), (lower(n.last_name))
        UNION ALL SELECT unnest(regexp_split_to_array(lower(coalesce(n.company, '') || ' ' || coalesce(n.title, '')), '[^[:alnum:]]+'))) v (t)
    WHERE t <> '' AND NOT EXISTS (SELECT 1 FROM search_terms s WHERE s.term = v.t);
    RETURN NULL;
END $$;
-- +goose StatementEnd
