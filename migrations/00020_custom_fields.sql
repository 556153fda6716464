-- +goose Up
-- Organization: custom fields (definitions in custom_fields, values in contacts.custom_fields),
-- contact types (an explicit type on the contact; otherwise derived from its relationships) and
-- the account hierarchy (accounts.parent_id). Package contact owns custom_fields and the new
-- contacts columns; package relationship owns accounts.

-- A custom field's definition. key is immutable (it names the value in every contact's
-- custom_fields, in filters cf.<key> and in exports); label is what people see and may change.
CREATE TABLE custom_fields (
    id         uuid PRIMARY KEY,
    key        text NOT NULL UNIQUE,
    label      text NOT NULL,
    type       text NOT NULL CHECK (type IN ('text', 'number', 'date', 'boolean', 'enum', 'multi_enum', 'email', 'phone', 'url')),
    options    text[] NOT NULL DEFAULT '{}',
    required   boolean NOT NULL DEFAULT false,
    "unique"   boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX custom_fields_label_idx ON custom_fields (lower(label));

-- Values by key, in their canonical JSON form (numbers as numbers, dates as "YYYY-MM-DD",
-- booleans, multi_enum as arrays of options). jsonb_path_ops serves cf.<key> equality
-- (containment) and the unique check.
ALTER TABLE contacts ADD COLUMN custom_fields jsonb NOT NULL DEFAULT '{}'::jsonb;
CREATE INDEX contacts_custom_fields_idx ON contacts USING gin (custom_fields jsonb_path_ops);

-- The contact's type when set explicitly; NULL derives it from its relationships.
ALTER TABLE contacts ADD COLUMN contact_type text CHECK (contact_type IN ('business', 'user', 'account'));
CREATE INDEX contacts_contact_type_idx ON contacts (contact_type, id) WHERE contact_type IS NOT NULL;

ALTER TABLE accounts ADD COLUMN parent_id uuid REFERENCES accounts (id);
CREATE INDEX accounts_parent_idx ON accounts (parent_id) WHERE parent_id IS NOT NULL;

-- +goose Down
DROP INDEX accounts_parent_idx;
ALTER TABLE accounts DROP COLUMN parent_id;
DROP INDEX contacts_contact_type_idx;
ALTER TABLE contacts DROP COLUMN contact_type;
DROP INDEX contacts_custom_fields_idx;
ALTER TABLE contacts DROP COLUMN custom_fields;
DROP TABLE custom_fields;
