-- +goose Up
-- Duplicates: blocking keys kept with the contacts, the matcher's trained models, review items,
-- scan runs, and lossless, reversible merges.

-- A merged contact keeps its row (status 'merged') and points at its survivor.
ALTER TABLE contacts ADD COLUMN merged_into uuid REFERENCES contacts (id);
CREATE INDEX contacts_merged_into_idx ON contacts (merged_into) WHERE merged_into IS NOT NULL;

-- The matcher's blocking keys of each active contact: two contacts sharing a key are
-- candidates. Written in the transaction of the normalize job's (or import's) writes.
CREATE TABLE contact_keys (
    key        text NOT NULL,
    contact_id uuid NOT NULL REFERENCES contacts (id),
    PRIMARY KEY (key, contact_id)
);
CREATE INDEX contact_keys_contact_idx ON contact_keys (contact_id);

-- Emails and phones a contact carries besides its own: those of contacts merged into it (and,
-- later, other sources). They keep matching later records to the survivor.
CREATE TABLE contact_alternates (
    contact_id      uuid NOT NULL REFERENCES contacts (id),
    kind            text NOT NULL CHECK (kind IN ('email', 'phone')),
    value           text NOT NULL,
    normalized      text,
    from_contact_id uuid REFERENCES contacts (id),
    merge_id        uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (contact_id, kind, value)
);
CREATE INDEX contact_alternates_normalized_idx ON contact_alternates (kind, normalized) WHERE normalized IS NOT NULL;
CREATE INDEX contact_alternates_merge_idx ON contact_alternates (merge_id) WHERE merge_id IS NOT NULL;

-- Trained matcher models; workers use the newest version.
CREATE TABLE matcher_models (
    version    int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model      jsonb NOT NULL,
    stats      jsonb NOT NULL DEFAULT '{}'::jsonb,
    actor      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Every merge, with a full snapshot of every contact it touched as it was before, so that it
-- can be undone.
CREATE TABLE merges (
    id            uuid PRIMARY KEY,
    survivor_id   uuid NOT NULL REFERENCES contacts (id),
    merged_ids    uuid[] NOT NULL,
    actor         text NOT NULL,
    model_version int REFERENCES matcher_models (version),
    score         double precision,
    field_values  jsonb NOT NULL DEFAULT '{}'::jsonb,
    snapshot      jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    undone_at     timestamptz,
    undone_by     text,
    undo_report   jsonb
);
CREATE INDEX merges_survivor_idx ON merges (survivor_id);
CREATE INDEX merges_merged_idx ON merges USING gin (merged_ids);

-- Pairs the matcher was unsure of, for a person to decide.
CREATE TABLE duplicate_reviews (
    id            uuid PRIMARY KEY,
    contact_a     uuid NOT NULL REFERENCES contacts (id),
    contact_b     uuid NOT NULL REFERENCES contacts (id),
    score         double precision NOT NULL,
    explanation   jsonb NOT NULL,
    model_version int REFERENCES matcher_models (version),
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'merged', 'dismissed', 'obsolete')),
    -- The matched fields of each contact when proposed: a dismissed pair is proposed again
    -- only when one of these changes.
    fingerprint_a text NOT NULL,
    fingerprint_b text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    decided_at    timestamptz,
    decided_by    text,
    merge_id      uuid REFERENCES merges (id),
    CHECK (contact_a < contact_b)
);
CREATE UNIQUE INDEX duplicate_reviews_pair_idx ON duplicate_reviews (contact_a, contact_b);
CREATE INDEX duplicate_reviews_open_idx ON duplicate_reviews (score DESC, id) WHERE status = 'open';
CREATE INDEX duplicate_reviews_b_idx ON duplicate_reviews (contact_b);

-- Full scans and their statistics.
CREATE TABLE dedupe_runs (
    id            uuid PRIMARY KEY,
    status        text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    model_version int REFERENCES matcher_models (version),
    stats         jsonb NOT NULL DEFAULT '{}'::jsonb,
    error         text,
    actor         text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz
);

-- +goose Down
DROP TABLE dedupe_runs;
DROP TABLE duplicate_reviews;
DROP TABLE merges;
DROP TABLE matcher_models;
DROP TABLE contact_alternates;
DROP TABLE contact_keys;
ALTER TABLE contacts DROP COLUMN merged_into;
