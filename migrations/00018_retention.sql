-- +goose Up
-- Retention (package retention): policies that archive, erase or purge the communications of
-- the contacts a filter selects, and their runs. A run works its contacts in id order, batch by
-- batch; its cursor is the last contact id of its last committed batch, so a killed run resumes.

CREATE TABLE retention_policies (
    id               uuid PRIMARY KEY,
    name             text NOT NULL,
    action           text NOT NULL CHECK (action IN ('archive', 'erase', 'purge_communications')),
    -- {status?, tag?, inactiveDays?, noLawfulBasis?}
    filter           jsonb NOT NULL,
    -- NULL: run on demand only.
    schedule_seconds bigint CHECK (schedule_seconds > 0),
    next_due_at      timestamptz,
    version          bigint NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX retention_policies_due_idx ON retention_policies (next_due_at) WHERE schedule_seconds IS NOT NULL;

CREATE TABLE retention_runs (
    -- UUIDv7: creation order.
    id          uuid PRIMARY KEY,
    policy_id   uuid NOT NULL REFERENCES retention_policies (id) ON DELETE CASCADE,
    status      text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    -- The policy as it was when the run was queued: a later edit does not change a run.
    action      text NOT NULL,
    filter      jsonb NOT NULL,
    -- Inactivity is measured against this time, fixed when the run starts, so every batch (and
    -- a resumed run) selects by the same cut-off.
    as_of       timestamptz,
    matched     bigint NOT NULL DEFAULT 0,
    processed   bigint NOT NULL DEFAULT 0,
    cursor      uuid,
    error       text,
    queued_at   timestamptz NOT NULL DEFAULT now(),
    started_at  timestamptz,
    finished_at timestamptz
);

CREATE INDEX retention_runs_policy_idx ON retention_runs (policy_id, id DESC);
-- One run per policy at a time.
CREATE UNIQUE INDEX retention_runs_active_idx ON retention_runs (policy_id) WHERE status IN ('queued', 'running');

-- +goose Down
DROP TABLE retention_runs;
DROP TABLE retention_policies;
