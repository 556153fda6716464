-- +goose Up
-- Webhook subscriptions and their delivery attempts (package webhook). cursor is the seq of the
-- last event the webhook's ordered stream has finished with (delivered, given up on, or not
-- subscribed to); deliveries resume after it.
CREATE TABLE webhooks (
    id         uuid PRIMARY KEY,
    url        text NOT NULL,
    events     text[] NOT NULL,
    secret     text NOT NULL,
    active     boolean NOT NULL DEFAULT true,
    cursor     bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per attempt: status is succeeded, retrying (failed; next_attempt_at says when the
-- stream tries again) or failed (given up, or a failed replay).
CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY,
    webhook_id      uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_seq       bigint NOT NULL,
    event_type      text NOT NULL,
    attempt         integer NOT NULL,
    replay          boolean NOT NULL DEFAULT false,
    status          text NOT NULL CHECK (status IN ('succeeded', 'retrying', 'failed')),
    response_code   integer,
    latency_ms      double precision NOT NULL,
    error           text,
    next_attempt_at timestamptz,
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (webhook_id, event_seq);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
