-- +goose Up
-- The foundation schema: contacts, the users and accounts they relate to, relationship history,
-- the audit log and API keys. Every list filter the API offers has an index here.

CREATE TABLE users (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    email      text,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE accounts (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    domain     text,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE contacts (
    -- ids are UUIDv7 (time-ordered), so keyset pagination by id is creation order and inserts
    -- append to the primary-key index instead of splitting random pages.
    id                    uuid PRIMARY KEY,
    first_name            text,
    last_name             text,
    email                 text,
    phone                 text,
    title                 text,
    company               text,
    status                text NOT NULL DEFAULT 'active'
                          CHECK (status IN ('active', 'archived', 'merged')),
    preferences           jsonb NOT NULL DEFAULT '{}'::jsonb,
    version               bigint NOT NULL DEFAULT 1,
    -- Normalized forms. email_normalized is computed when the email is written (duplicate
    -- prevention needs it at once); the normalize_contact job (re)writes all of them.
    email_normalized      text,
    phone_e164            text,
    phone_extension       text,
    phone_valid           boolean,
    normalized_at         timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX contacts_status_id_idx ON contacts (status, id);
CREATE INDEX contacts_company_idx ON contacts (lower(company), id) WHERE company IS NOT NULL;
CREATE INDEX contacts_email_active_idx ON contacts (lower(email_normalized))
    WHERE status = 'active' AND email_normalized IS NOT NULL;

CREATE TABLE contact_users (
    id                uuid PRIMARY KEY,
    contact_id        uuid NOT NULL REFERENCES contacts (id),
    user_id           uuid NOT NULL REFERENCES users (id),
    relationship_type text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    removed_at        timestamptz
);

CREATE INDEX contact_users_contact_idx ON contact_users (contact_id, created_at);
CREATE INDEX contact_users_type_idx ON contact_users (lower(relationship_type), contact_id)
    WHERE removed_at IS NULL;
CREATE INDEX contact_users_user_idx ON contact_users (user_id) WHERE removed_at IS NULL;
-- One current relationship of a given type between a contact and a user.
CREATE UNIQUE INDEX contact_users_current_idx ON contact_users (contact_id, user_id, lower(relationship_type))
    WHERE removed_at IS NULL;

CREATE TABLE contact_accounts (
    id         uuid PRIMARY KEY,
    contact_id uuid NOT NULL REFERENCES contacts (id),
    account_id uuid NOT NULL REFERENCES accounts (id),
    role       text,
    is_primary boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    removed_at timestamptz
);

CREATE INDEX contact_accounts_contact_idx ON contact_accounts (contact_id, created_at);
CREATE INDEX contact_accounts_role_idx ON contact_accounts (lower(role), contact_id)
    WHERE removed_at IS NULL;
CREATE INDEX contact_accounts_account_idx ON contact_accounts (account_id, contact_id)
    WHERE removed_at IS NULL;
-- One current relationship between a contact and an account (the role is its property).
CREATE UNIQUE INDEX contact_accounts_current_idx ON contact_accounts (contact_id, account_id)
    WHERE removed_at IS NULL;
-- At most one current primary contact per account.
CREATE UNIQUE INDEX contact_accounts_one_primary_idx ON contact_accounts (account_id)
    WHERE is_primary AND removed_at IS NULL;

CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    action      text NOT NULL,
    entity_type text NOT NULL,
    entity_id   uuid NOT NULL,
    contact_id  uuid,
    -- {"field": {"before": ..., "after": ...}, ...}
    changes     jsonb NOT NULL DEFAULT '{}'::jsonb
);

CREATE INDEX audit_log_contact_idx ON audit_log (contact_id, id) WHERE contact_id IS NOT NULL;
CREATE INDEX audit_log_entity_idx ON audit_log (entity_id, id);

CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    name         text NOT NULL,
    token_hash   bytea NOT NULL UNIQUE,
    scopes       text[] NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);

-- +goose Down
DROP TABLE api_keys;
DROP TABLE audit_log;
DROP TABLE contact_accounts;
DROP TABLE contact_users;
DROP TABLE contacts;
DROP TABLE accounts;
DROP TABLE users;
