-- +goose Up
-- Erasure (Art. 17) and the suppression list (package erasure owns suppressions; package
-- contact owns the tombstone columns). An erased contact keeps its row as a tombstone: its id,
-- status 'erased', when and by whom; every personal column is null. Rows elsewhere keep
-- referring to the id.
ALTER TABLE contacts ADD COLUMN erased_at timestamptz, ADD COLUMN erased_by text;
ALTER TABLE contacts DROP CONSTRAINT contacts_status_check;
ALTER TABLE contacts ADD CONSTRAINT contacts_status_check
    CHECK (status IN ('active', 'archived', 'merged', 'erased'));

-- Keyed HMAC-SHA256 of the canonical email (normalized, lower-cased) or phone (E.164) of people
-- who were erased or withdrew everything: imports and sync never re-create them, and a create
-- answers 409 unless it carries a new consent event. The address itself is never stored.
CREATE TABLE suppressions (
    kind       text NOT NULL CHECK (kind IN ('email', 'phone')),
    hmac       bytea NOT NULL,
    reason     text NOT NULL CHECK (reason IN ('erased', 'withdrawn')),
    -- The contact (a tombstone for an erasure) the entry came from.
    contact_id uuid REFERENCES contacts (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, hmac)
);
CREATE INDEX suppressions_contact_idx ON suppressions (contact_id) WHERE contact_id IS NOT NULL;

-- +goose Down
DROP TABLE suppressions;
ALTER TABLE contacts DROP CONSTRAINT contacts_status_check;
ALTER TABLE contacts ADD CONSTRAINT contacts_status_check CHECK (status IN ('active', 'archived', 'merged'));
ALTER TABLE contacts DROP COLUMN erased_by, DROP COLUMN erased_at;
