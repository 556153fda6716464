-- +goose Up
-- A merge closes the review items between its contacts (merge_id) before it stores the merge
-- row itself, which carries every concern's state: the reference is checked at commit.
ALTER TABLE duplicate_reviews ALTER CONSTRAINT duplicate_reviews_merge_id_fkey DEFERRABLE INITIALLY DEFERRED;

-- +goose Down
ALTER TABLE duplicate_reviews ALTER CONSTRAINT duplicate_reviews_merge_id_fkey NOT DEFERRABLE;
