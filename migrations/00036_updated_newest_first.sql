-- The list sorted by -updatedAt (most recently changed first: the usual way) reads its page in
-- index order (package contact, list.go).
--
-- Its order is updated_at descending and, on ties, id ascending (ties go by id ascending in
-- either direction). (updated_at, id) read backward gives ties by id descending, so a page
-- sorted every contact of the first timestamps: an import gives thousands of contacts one
-- updated_at, and with a tag filter a page read and sorted ~20k rows. The index now has the
-- descending order; an ascending sort (least recently changed first, rare) pays the sort
-- instead.

-- +goose Up
DROP INDEX contacts_updated_idx;
CREATE INDEX contacts_updated_idx ON contacts (updated_at DESC, id);

-- +goose Down
DROP INDEX contacts_updated_idx;
CREATE INDEX contacts_updated_idx ON contacts (updated_at, id);
