-- +goose Up
-- The outbox made cheap for bulk writes, and consent changes made events.
--
-- An event of an audited change no longer copies the change: it names its audit entry
-- (audit_id) and the feed derives its data from that entry when it is read (event_of_audit).
-- The trigger writes one narrow row per entry, its type a CASE over the entry's action, so an
-- import batch pays for a small insert instead of building and storing each change's JSON a
-- second time. data, when set, wins: events emitted by code (import.finished, sync.finished),
-- events written before this migration, and events an erasure emptied.
--
-- Consent events (audited as consent_granted and consent_withdrawn on a consent_event, by
-- recording, opt-out, one-click unsubscribe and an undo's copies alike) become consent.changed.
ALTER TABLE events ADD COLUMN audit_id bigint, ALTER COLUMN data DROP NOT NULL,
    ADD CONSTRAINT events_data_or_audit CHECK (data IS NOT NULL OR audit_id IS NOT NULL);

-- +goose StatementBegin
-- The event type of one audit entry, NULL for an entry that is no event.
CREATE FUNCTION event_type_of_audit(action text, entity_type text, changes jsonb)
    RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE entity_type
        WHEN 'contact' THEN CASE action
            WHEN 'create' THEN 'contact.created'
            WHEN 'import' THEN 'contact.created'
            WHEN 'update' THEN 'contact.updated'
            WHEN 'archive' THEN 'contact.archived'
            WHEN 'merge' THEN CASE WHEN changes ? 'mergedIds' THEN 'contact.merged' END
            WHEN 'unmerge' THEN CASE WHEN changes ? 'restoredIds' THEN 'contact.unmerged' END
            WHEN 'erase' THEN 'contact.erased'
        END
        WHEN 'relationship' THEN CASE action
            WHEN 'create' THEN 'relationship.added'
            WHEN 'delete' THEN 'relationship.removed'
        END
        WHEN 'consent_event' THEN CASE WHEN action IN ('consent_granted', 'consent_withdrawn') THEN 'consent.changed' END
    END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- The event (type and data) of one audit entry, as the feed shows it; no row for an entry that
-- is no event. Read time only: the trigger calls event_type_of_audit.
CREATE OR REPLACE FUNCTION event_of_audit(action text, entity_type text, entity_id uuid, contact_id uuid, changes jsonb)
    RETURNS TABLE (type text, data jsonb) LANGUAGE sql IMMUTABLE AS $$
    SELECT t.type, CASE t.type
        WHEN 'contact.created' THEN jsonb_build_object(
            'contactId', entity_id,
            'fields', (SELECT coalesce(jsonb_object_agg(k, v -> 'after'), '{}') FROM jsonb_each(changes) AS f(k, v) WHERE k <> 'import'))
            || CASE WHEN changes ? 'import' THEN jsonb_build_object('import', changes -> 'import' -> 'after') ELSE '{}' END
        WHEN 'contact.updated' THEN jsonb_build_object('contactId', entity_id, 'changes', changes)
        WHEN 'contact.archived' THEN jsonb_build_object('contactId', entity_id)
        WHEN 'contact.merged' THEN jsonb_build_object(
            'survivorId', entity_id, 'mergedIds', changes -> 'mergedIds' -> 'after', 'mergeId', changes -> 'mergeId' -> 'after',
            'changes', changes - 'mergedIds' - 'mergeId')
        WHEN 'contact.unmerged' THEN jsonb_build_object(
            'survivorId', entity_id, 'restoredIds', changes -> 'restoredIds' -> 'after', 'mergeId', changes -> 'mergeId' -> 'after',
            'changes', changes - 'restoredIds' - 'mergeId')
        -- An erasure names the contact and nothing else: no field, no change.
        WHEN 'contact.erased' THEN jsonb_build_object('contactId', entity_id)
        WHEN 'relationship.added' THEN jsonb_build_object(
            'relationshipId', entity_id, 'contactId', contact_id,
            'entityType', changes -> 'entityType' -> 'after', 'entityId', changes -> 'entityId' -> 'after',
            'role', changes -> 'role' -> 'after', 'isPrimary', changes -> 'isPrimary' -> 'after')
        WHEN 'relationship.removed' THEN jsonb_build_object('relationshipId', entity_id, 'contactId', contact_id)
        -- The audited key is consent.<channel>.<purpose> (neither has a dot).
        WHEN 'consent.changed' THEN (
            SELECT jsonb_build_object('contactId', contact_id, 'consentEventId', entity_id,
                'channel', split_part(k, '.', 2), 'purpose', split_part(k, '.', 3), 'status', changes -> k -> 'after',
                'lawfulBasis', changes -> 'lawfulBasis' -> 'after', 'source', changes -> 'source' -> 'after')
            FROM jsonb_object_keys(changes) AS k WHERE k LIKE 'consent.%' LIMIT 1)
    END
    FROM (SELECT event_type_of_audit(action, entity_type, changes) AS type) AS t
    WHERE t.type IS NOT NULL
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION events_from_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events (type, contact_id, occurred_at, audit_id)
    SELECT t.type, n.contact_id, n.at, n.id
    FROM new_audit n CROSS JOIN LATERAL (SELECT event_type_of_audit(n.action, n.entity_type, n.changes) AS type) t
    WHERE t.type IS NOT NULL
    ORDER BY n.id;
    IF FOUND THEN
        PERFORM pg_notify('contactd_events', '');
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION events_from_audit() RETURNS trigger LANGUAGE plpgsql AS $$
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
UPDATE events e SET data = coalesce((SELECT d.data FROM audit_log a
    CROSS JOIN LATERAL event_of_audit(a.action, a.entity_type, a.entity_id, a.contact_id, a.changes) d
    WHERE a.id = e.audit_id), jsonb_build_object('contactId', e.contact_id))
WHERE e.data IS NULL;
DELETE FROM events WHERE type = 'consent.changed';
ALTER TABLE events DROP CONSTRAINT events_data_or_audit, DROP COLUMN audit_id;
ALTER TABLE events ALTER COLUMN data SET NOT NULL;
DROP FUNCTION event_type_of_audit(text, text, jsonb);
