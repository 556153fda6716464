-- +goose Up
-- External sync (package sync/source owns these tables).
CREATE TABLE sync_sources (
    id               uuid PRIMARY KEY,
    type             text NOT NULL,
    name             text NOT NULL,
    config           jsonb NOT NULL,          -- the connector's settings without secrets
    secrets          bytea,                   -- AES-256-GCM of the secrets (nonce || ciphertext)
    direction        text NOT NULL,
    conflict_policy  text NOT NULL,
    schedule_seconds bigint,                  -- null: manual only
    propagate_merges boolean NOT NULL DEFAULT false,
    checkpoint       jsonb,                   -- the connector's position, written with each page
    next_due_at      timestamptz,             -- when the scheduler next runs it
    version          bigint NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX sync_sources_due_idx ON sync_sources (next_due_at) WHERE next_due_at IS NOT NULL;

CREATE TABLE sync_runs (
    id          uuid PRIMARY KEY,
    source_id   uuid NOT NULL REFERENCES sync_sources (id) ON DELETE CASCADE,
    status      text NOT NULL,
    full_sync   boolean NOT NULL DEFAULT false,
    pulled      bigint NOT NULL DEFAULT 0,
    created     bigint NOT NULL DEFAULT 0,
    updated     bigint NOT NULL DEFAULT 0,
    linked      bigint NOT NULL DEFAULT 0,
    deleted     bigint NOT NULL DEFAULT 0,
    pushed      bigint NOT NULL DEFAULT 0,
    conflicts   bigint NOT NULL DEFAULT 0,
    requests    bigint NOT NULL DEFAULT 0,
    errors      jsonb NOT NULL DEFAULT '[]',
    queued_at   timestamptz NOT NULL DEFAULT now(),
    started_at  timestamptz,
    finished_at timestamptz
);

CREATE INDEX sync_runs_source_idx ON sync_runs (source_id, id);
-- One run per source at a time.
CREATE UNIQUE INDEX sync_runs_active_idx ON sync_runs (source_id) WHERE status IN ('queued', 'running');

CREATE TABLE sync_links (
    source_id      uuid NOT NULL REFERENCES sync_sources (id) ON DELETE CASCADE,
    remote_id      text NOT NULL,
    contact_id     uuid NOT NULL REFERENCES contacts (id),
    etag           text,
    remote_updated text,
    content_hash   bytea NOT NULL,
    payload        jsonb NOT NULL,           -- the record's mapped values as last synced
    decision       jsonb NOT NULL,           -- how the record found its contact
    deleted        boolean NOT NULL DEFAULT false,
    synced_at      timestamptz NOT NULL DEFAULT now(),
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_id, remote_id)
);

CREATE INDEX sync_links_contact_idx ON sync_links (contact_id);

-- +goose Down
DROP TABLE sync_links;
DROP TABLE sync_runs;
DROP TABLE sync_sources;
