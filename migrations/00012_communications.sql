-- +goose Up
-- Communications with contacts (package communication): emails, calls, meetings, ... logged
-- against a contact. They follow their contact through merges (a contact.MovedRows concern).

CREATE TABLE communications (
    -- UUIDv7: creation order.
    id          uuid PRIMARY KEY,
    contact_id  uuid NOT NULL REFERENCES contacts (id),
    channel     text NOT NULL CHECK (channel IN ('email', 'sms', 'phone', 'meeting', 'letter', 'chat')),
    direction   text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    subject     text NOT NULL DEFAULT '',
    body        text,
    occurred_at timestamptz NOT NULL,
    user_id     uuid REFERENCES users (id),
    actor       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A contact's communications newest first, by keyset.
CREATE INDEX communications_contact_idx ON communications (contact_id, occurred_at DESC, id DESC);
CREATE INDEX communications_user_idx ON communications (user_id) WHERE user_id IS NOT NULL;

-- +goose Down
DROP TABLE communications;
