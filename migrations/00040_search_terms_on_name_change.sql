-- An update of contacts adds to search_terms only the words of rows whose names, company or
-- title changed. Before, every update re-read every updated row's words: a merge marking
-- contacts, an archive, or a write of a contact's consent state (package consent) did that work
-- for nothing, and an update during an erasure put back the words the erasure had just taken
-- out of search_terms, before the tombstone cleared the names.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION contacts_add_changed_search_terms() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE $q$
    INSERT INTO search_terms (term)
    SELECT DISTINCT t FROM new_rows n JOIN old_rows o ON o.id = n.id,
        LATERAL (VALUES (lower(n.first_name)), (lower(n.last_name))
        UNION ALL SELECT unnest(regexp_split_to_array(lower(coalesce(n.company, '') || ' ' || coalesce(n.title, '')), '[^[:alnum:]]+'))) v (t)
    WHERE (n.first_name, n.last_name, n.company, n.title) IS DISTINCT FROM (o.first_name, o.last_name, o.company, o.title)
      AND t <> '' AND NOT EXISTS (SELECT 1 FROM search_terms s WHERE s.term = v.t)
    $q$;
    RETURN NULL;
END $$;
-- +goose StatementEnd
DROP TRIGGER contacts_search_terms_update ON contacts;
CREATE TRIGGER contacts_search_terms_update AFTER UPDATE ON contacts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contacts_add_changed_search_terms();

-- +goose Down
DROP TRIGGER contacts_search_terms_update ON contacts;
CREATE TRIGGER contacts_search_terms_update AFTER UPDATE ON contacts
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION contacts_add_search_terms();
DROP FUNCTION contacts_add_changed_search_terms();
