-- +goose Up
-- Nothing reads the audit log by entity: a contact's trail is read by contact_id (its own
-- entries and its relationships'), and there is no trail of a user or an account yet. The
-- index cost every audited change an insertion, a million of them in a million-row import.
-- A route that reads an entity's trail brings it back.
DROP INDEX audit_log_entity_idx;

-- +goose Down
CREATE INDEX audit_log_entity_idx ON audit_log (entity_id, id);
