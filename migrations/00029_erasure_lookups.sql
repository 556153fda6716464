-- +goose Up
-- An erasure finds the copies of a person's values through indexes, so that its cost follows
-- the rows that hold the person, not the size of the tables (a retention run erases thousands).
-- Rows about a contact are found by its id: the change feed's events had no index on it (an
-- erasure read every event). Rows that only hold text (an import's error rows and file name, a
-- stored Idempotency-Key response, a sync run's errors) are found by trigram indexes on the
-- text the scrubbers look in (contact.Personal.LikePatterns, then Mentions decides). Each
-- expression here is the one its package's scrubber queries. A GIN index's pending list (rows
-- inserted since the last vacuum) is read whole by every lookup: 2,000 fresh error rows made
-- one erasure's lookup take half a second. So the trigram indexes take each row at once
-- (fastupdate off); for stored responses that is a cost on every POST with an Idempotency-Key.
CREATE INDEX events_contact_idx ON events (contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX import_errors_text_trgm_idx ON import_errors USING gin ((coalesce(field, '') || ' ' || message) gin_trgm_ops)
    WITH (fastupdate = off);
CREATE INDEX imports_file_name_trgm_idx ON imports USING gin (file_name gin_trgm_ops) WITH (fastupdate = off)
    WHERE file_name IS NOT NULL;
CREATE INDEX idempotency_keys_text_trgm_idx ON idempotency_keys
    USING gin ((coalesce(encode(body, 'escape'), '') || ' ' || headers::text) gin_trgm_ops)
    WITH (fastupdate = off);
CREATE INDEX sync_runs_errors_trgm_idx ON sync_runs USING gin ((errors::text) gin_trgm_ops) WITH (fastupdate = off);

-- +goose Down
DROP INDEX sync_runs_errors_trgm_idx;
DROP INDEX idempotency_keys_text_trgm_idx;
DROP INDEX imports_file_name_trgm_idx;
DROP INDEX import_errors_text_trgm_idx;
DROP INDEX events_contact_idx;
