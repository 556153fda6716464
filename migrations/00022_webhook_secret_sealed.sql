-- +goose Up
-- Webhook secrets are sealed (AES-256-GCM under CONTACTD_SECRET_KEY, package internal/secret)
-- into secret_sealed. secret keeps a plain secret only while the server has no key; a server
-- started with the key seals the plain ones it finds (webhook.Store.SealPlain) and clears them.
ALTER TABLE webhooks ADD COLUMN secret_sealed bytea, ALTER COLUMN secret DROP NOT NULL,
    ADD CONSTRAINT webhooks_secret_once CHECK ((secret IS NULL) <> (secret_sealed IS NULL));

-- +goose Down
ALTER TABLE webhooks DROP CONSTRAINT webhooks_secret_once, DROP COLUMN secret_sealed;
ALTER TABLE webhooks ALTER COLUMN secret SET NOT NULL;
