-- +goose Up
-- Groups of contacts (package group): static groups list their members; smart groups keep a
-- filter (the list endpoint's query string) evaluated when read.
CREATE TABLE contact_groups (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    name_key   text NOT NULL UNIQUE,
    kind       text NOT NULL CHECK (kind IN ('static', 'smart')),
    filter     text CHECK ((kind = 'smart') = (filter IS NOT NULL)),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE group_members (
    group_id   uuid NOT NULL REFERENCES contact_groups (id) ON DELETE CASCADE,
    contact_id uuid NOT NULL REFERENCES contacts (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, contact_id)
);

CREATE INDEX group_members_contact_idx ON group_members (contact_id, group_id);

-- +goose Down
DROP TABLE group_members;
DROP TABLE contact_groups;
