-- +goose Up
-- push_requests counts the merges and undos that touched a source's linked contacts (sources
-- with propagate_merges that push). Each also queues a run of the source in its transaction; a
-- run already under way compares the count before finishing and pushes again when it moved, so
-- that a merge made during its push is not left for the next scheduled run.
ALTER TABLE sync_sources ADD COLUMN push_requests bigint NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE sync_sources DROP COLUMN push_requests;
