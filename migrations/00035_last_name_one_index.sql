-- One btree for a last name, searched and sorted (package contact, search.go and list.go).
--
-- A one-word search reads a last name's contacts as the lastName sort keys them
-- (coalesce(lower(last_name), '') = the name: a name is never empty), so 00009's sort index
-- reads them in id order for a relevance page and in the sort's order for a sorted one; 00030's
-- (lower(last_name), id), a near-duplicate, only slowed writes. (lower(last_name),
-- lower(first_name), id) stays for two-word searches and finds last names alone too.

-- +goose Up
DROP INDEX contacts_last_name_search_idx;

-- +goose Down
CREATE INDEX contacts_last_name_search_idx ON contacts (lower(last_name), id);
