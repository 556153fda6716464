-- +goose Up
-- The outbox and change feed (package event). Every audited change to a contact becomes an
-- event in the transaction that audits it: a statement trigger on audit_log maps the audit
-- entries of each INSERT or COPY to events in one set-based statement, so no code path that
-- changes a contact can forget its event. Other events (import.finished) are inserted by
-- package event's Emit. id is assigned at insert, in the order the changes happened; seq is
-- assigned after commit by one sequencer at a time (event.Sequence), so the feed read by seq
-- has no gaps when transactions commit out of order: a row that commits late gets a later seq.
CREATE TABLE events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    seq         bigint UNIQUE,
    type        text NOT NULL,
    contact_id  uuid,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    data        jsonb NOT NULL
);
CREATE INDEX events_unsequenced_idx ON events (id) WHERE seq IS NULL;

-- +goose StatementBegin
-- The event of one audit entry (no row for an entry that is no event). It returns a set so
-- that PostgreSQL inlines it into the trigger's statement rather than calling it per row.
CREATE FUNCTION event_of_audit(action text, entity_type text, entity_id uuid, contact_id uuid, changes jsonb)
    RETURNS TABLE (type text, data jsonb) LANGUAGE sql IMMUTABLE AS $$
    SELECT t.type, t.data FROM (SELECT
        CASE
            WHEN entity_type = 'contact' AND action IN ('create', 'import') THEN 'contact.created'
            WHEN entity_type = 'contact' AND action = 'update' THEN 'contact.updated'
            WHEN entity_type = 'contact' AND action = 'archive' THEN 'contact.archived'
            WHEN entity_type = 'contact' AND action = 'merge' AND changes ? 'mergedIds' THEN 'contact.merged'
            WHEN entity_type = 'contact' AND action = 'unmerge' AND changes ? 'restoredIds' THEN 'contact.unmerged'
            WHEN entity_type = 'contact' AND action = 'erase' THEN 'contact.erased'
            WHEN entity_type = 'relationship' AND action = 'create' THEN 'relationship.added'
            WHEN entity_type = 'relationship' AND action = 'delete' THEN 'relationship.removed'
        END AS type,
        CASE
            WHEN entity_type = 'contact' AND action IN ('create', 'import') THEN jsonb_build_object(
                'contactId', entity_id,
                'fields', (SELECT coalesce(jsonb_object_agg(k, v -> 'after'), '{}') FROM jsonb_each(changes) AS f(k, v) WHERE k <> 'import'))
                || CASE WHEN changes ? 'import' THEN jsonb_build_object('import', changes -> 'import' -> 'after') ELSE '{}' END
            WHEN entity_type = 'contact' AND action = 'update' THEN jsonb_build_object('contactId', entity_id, 'changes', changes)
            WHEN entity_type = 'contact' AND action = 'archive' THEN jsonb_build_object('contactId', entity_id)
            WHEN entity_type = 'contact' AND action = 'merge' THEN jsonb_build_object(
                'survivorId', entity_id, 'mergedIds', changes -> 'mergedIds' -> 'after', 'mergeId', changes -> 'mergeId' -> 'after',
                'changes', changes - 'mergedIds' - 'mergeId')
            WHEN entity_type = 'contact' AND action = 'unmerge' THEN jsonb_build_object(
                'survivorId', entity_id, 'restoredIds', changes -> 'restoredIds' -> 'after', 'mergeId', changes -> 'mergeId' -> 'after',
                'changes', changes - 'restoredIds' - 'mergeId')
            -- An erasure names the contact and nothing else: no field, no change.
            WHEN entity_type = 'contact' AND action = 'erase' THEN jsonb_build_object('contactId', entity_id)
            WHEN entity_type = 'relationship' AND action = 'create' THEN jsonb_build_object(
                'relationshipId', entity_id, 'contactId', contact_id,
                'entityType', changes -> 'entityType' -> 'after', 'entityId', changes -> 'entityId' -> 'after',
                'role', changes -> 'role' -> 'after', 'isPrimary', changes -> 'isPrimary' -> 'after')
            WHEN entity_type = 'relationship' AND action = 'delete' THEN jsonb_build_object(
                'relationshipId', entity_id, 'contactId', contact_id)
        END AS data) AS t
    WHERE t.type IS NOT NULL
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION events_from_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events (type, contact_id, occurred_at, data)
    SELECT e.type, n.contact_id, n.at, e.data
    FROM new_audit n CROSS JOIN LATERAL event_of_audit(n.action, n.entity_type, n.entity_id, n.contact_id, n.changes) e
    WHERE e.type IS NOT NULL
    ORDER BY n.id;
    IF FOUND THEN
        PERFORM pg_notify('contactd_events', '');
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER audit_log_events AFTER INSERT ON audit_log
    REFERENCING NEW TABLE AS new_audit FOR EACH STATEMENT EXECUTE FUNCTION events_from_audit();

-- +goose Down
DROP TRIGGER audit_log_events ON audit_log;
DROP FUNCTION events_from_audit();
DROP FUNCTION event_of_audit(text, text, uuid, uuid, jsonb);
DROP TABLE events;
