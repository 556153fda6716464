-- A one-word search sorted by last name reads each first name's contacts in the sort's order
-- (package contact, search_page.go: sortedPageTx).
--
-- A page sorted by lastName reads, per name close to the word, the first contacts after its
-- cursor in that order. A last name's contacts come in that order from the sort's own btree,
-- but a first name's were all read and sorted: "james" is close to forty first names, 2,000
-- contacts each, 80,000 sorted for a page of 50. This btree has them in the sort's order.

-- +goose Up
CREATE INDEX contacts_first_name_last_idx ON contacts (lower(first_name), coalesce(lower(last_name), ''), id);

-- +goose Down
DROP INDEX contacts_first_name_last_idx;
