-- +goose Up
-- External sync, both ways (package sync/source). A link keeps the last synced remote document
-- (raw) so that a connector writes back what contactd does not model; payload becomes the last
-- synced state {values, emails, phones, tags} (the base of the three-way merge, both ways).
-- deleted_by says who deleted a deleted link's record: 'remote' (it went remotely: its contact
-- was archived, archived_contact when this link did it), 'local' (its contact was archived or
-- erased here and the record deleted remotely) or 'merge' (its contact was merged away and the
-- record deleted remotely, propagate_merges). merged_from is the contact a link belonged to
-- before a merge moved it to the survivor. seen_run is the last full listing that saw it.
ALTER TABLE sync_links
    ADD COLUMN raw bytea,
    ADD COLUMN deleted_by text CHECK (deleted_by IN ('remote', 'local', 'merge')),
    ADD COLUMN archived_contact boolean NOT NULL DEFAULT false,
    ADD COLUMN merged_from uuid,
    ADD COLUMN seen_run uuid;
UPDATE sync_links SET payload = jsonb_build_object('values', payload),
    deleted_by = CASE WHEN deleted THEN 'remote' END, archived_contact = deleted;

-- Remote records to delete whose contact was erased (its links are gone with its data).
CREATE TABLE sync_tombstones (
    source_id  uuid NOT NULL REFERENCES sync_sources (id) ON DELETE CASCADE,
    remote_id  text NOT NULL,
    etag       text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_id, remote_id)
);

-- ?allowEmpty=true: a full sync may find the source empty and archive everything.
ALTER TABLE sync_runs ADD COLUMN allow_empty boolean NOT NULL DEFAULT false,
    ADD COLUMN conflict_log jsonb NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE sync_runs DROP COLUMN allow_empty, DROP COLUMN conflict_log;
DROP TABLE sync_tombstones;
UPDATE sync_links SET payload = payload -> 'values';
ALTER TABLE sync_links DROP COLUMN raw, DROP COLUMN deleted_by, DROP COLUMN archived_contact, DROP COLUMN merged_from,
    DROP COLUMN seen_run;
