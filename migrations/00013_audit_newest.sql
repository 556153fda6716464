-- +goose Up
-- Package contact's audit_log: AuditTrailNewest (a contact's timeline) reads a contact's trail
-- newest first, by (at, id).
CREATE INDEX audit_log_contact_at_idx ON audit_log (contact_id, at DESC, id DESC) WHERE contact_id IS NOT NULL;

-- +goose Down
DROP INDEX audit_log_contact_at_idx;
