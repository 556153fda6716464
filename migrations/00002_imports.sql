-- +goose Up
-- Bulk import: where each contact came from (shared with sync later), the imports themselves,
-- their uploaded files and the rows that could not be imported.

-- Values a source sent that have no column yet: further emails and phones, unmapped columns.
-- Nothing a user sent is dropped.
ALTER TABLE contacts ADD COLUMN extra jsonb;

CREATE TABLE imports (
    id               uuid PRIMARY KEY,
    source           text NOT NULL,
    format           text NOT NULL,
    file_name        text,
    file_sha256      text NOT NULL,
    file_size        bigint NOT NULL,
    mode             text NOT NULL CHECK (mode IN ('skip', 'fill', 'overwrite')),
    default_region   text NOT NULL,
    mapping          jsonb NOT NULL DEFAULT '{}'::jsonb,
    status           text NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    -- next_row is the index of the first file record not yet committed: a resumed import
    -- skips that many records. It advances only in the transaction that commits a batch.
    next_row         bigint NOT NULL DEFAULT 0,
    total_rows       bigint,
    created_count    bigint NOT NULL DEFAULT 0,
    updated_count    bigint NOT NULL DEFAULT 0,
    skipped_count    bigint NOT NULL DEFAULT 0,
    failed_count     bigint NOT NULL DEFAULT 0,
    unmapped_columns text[] NOT NULL DEFAULT '{}',
    error            text,
    cancel_requested boolean NOT NULL DEFAULT false,
    actor            text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    heartbeat_at     timestamptz
);

CREATE INDEX imports_resume_idx ON imports (source, file_sha256) WHERE status IN ('queued', 'running');

-- An uploaded file, in chunks, until its import ends.
CREATE TABLE import_chunks (
    import_id uuid NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    seq       int NOT NULL,
    data      bytea NOT NULL,
    PRIMARY KEY (import_id, seq)
);

CREATE TABLE import_errors (
    import_id uuid NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    row_index bigint NOT NULL,
    seq       int NOT NULL,
    line      int NOT NULL,
    field     text,
    message   text NOT NULL,
    PRIMARY KEY (import_id, row_index, seq)
);

CREATE TABLE external_refs (
    source      text NOT NULL,
    external_id text NOT NULL,
    contact_id  uuid NOT NULL REFERENCES contacts (id),
    import_id   uuid,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, external_id)
);

CREATE INDEX external_refs_contact_idx ON external_refs (contact_id);

-- +goose Down
DROP TABLE external_refs;
DROP TABLE import_errors;
DROP TABLE import_chunks;
DROP TABLE imports;
ALTER TABLE contacts DROP COLUMN extra;
