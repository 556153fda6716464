-- +goose Up
-- Consent (package consent): the purposes contacts are reached for, and the append-only log of
-- consent events. Events keep their contact through merges; a survivor's consent is computed
-- over its own events and those of every contact merged into it, so an undo moves nothing.

CREATE TABLE purposes (
    name         text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_-]{0,63}$'),
    description  text NOT NULL DEFAULT '',
    -- opt_in: a contact is reachable for the purpose only with a grant on record; otherwise
    -- reachable unless withdrawn.
    opt_in       boolean NOT NULL,
    -- The lawful bases a grant must name to count for the purpose.
    lawful_bases text[] NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

INSERT INTO purposes (name, description, opt_in, lawful_bases) VALUES
    ('marketing', 'Newsletters, offers and campaigns.', true, '{consent,legitimate_interest}'),
    ('service', 'Messages about the service the contact uses: billing, security, support.', false,
     '{consent,contract,legal_obligation,vital_interest,public_task,legitimate_interest}');

CREATE TABLE consent_events (
    -- UUIDv7: creation order.
    id               uuid PRIMARY KEY,
    contact_id       uuid NOT NULL REFERENCES contacts (id),
    channel          text NOT NULL CHECK (channel IN ('email', 'sms', 'phone', 'mail')),
    purpose          text NOT NULL REFERENCES purposes (name),
    status           text NOT NULL CHECK (status IN ('granted', 'withdrawn')),
    lawful_basis     text NOT NULL CHECK (lawful_basis IN ('consent', 'contract', 'legal_obligation',
                         'vital_interest', 'public_task', 'legitimate_interest')),
    explanation      text NOT NULL DEFAULT '',
    source           text NOT NULL,
    captured_at      timestamptz NOT NULL,
    double_opt_in_at timestamptz,
    -- {ip, userAgent, noticeVersion}
    proof            jsonb NOT NULL DEFAULT '{}'::jsonb,
    actor            text NOT NULL,
    recorded_at      timestamptz NOT NULL DEFAULT now()
);

-- Serves the current state per (contact, channel, purpose): the latest event first, with what
-- reachability reads in the index.
CREATE INDEX consent_events_current_idx ON consent_events
    (contact_id, channel, purpose, captured_at DESC, id DESC) INCLUDE (status, lawful_basis, recorded_at);

-- +goose Down
DROP TABLE consent_events;
DROP TABLE purposes;
