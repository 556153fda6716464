-- +goose Up
-- The first response to each (API key, Idempotency-Key) of a POST, replayed to repeats of the
-- same request for 24 hours (package idempotency). status is null while the first request runs.
CREATE TABLE idempotency_keys (
    api_key_id   uuid NOT NULL,
    key          text NOT NULL,
    request_hash bytea NOT NULL,
    status       integer,
    headers      jsonb NOT NULL DEFAULT '{}',
    body         bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- A request still running after this is taken to have died with its process.
    locked_until timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (api_key_id, key)
);

CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);

-- +goose Down
DROP TABLE idempotency_keys;
