-- +goose Up
-- Each contact's consent state (package consent, written through contact.SetConsentStatesTx):
-- for each "channel/purpose" with events, the effective consent over the contact and every
-- contact merged into it, as a small number (consent's stateGranted, stateWithdrawn and
-- stateValidBasis bits). Bulk reachability then reads one row per contact asked instead of
-- probing the events of the contact and of everything merged into it. Derived data, kept by
-- every write of consent events, merge, undo and erasure; NULL is "not known": reachability then
-- folds the events, and consent's refresh (a daily job, run at start) fills it in. No index
-- serves NULL: an index on it would make every state write a non-HOT update of 17 indexes.
--
-- Adding the column with a default writes no row; the contacts that have events or have
-- contacts merged into them (the only ones whose state is not empty) are marked not known.
ALTER TABLE contacts ADD COLUMN consent_state jsonb DEFAULT '{}'::jsonb;

UPDATE contacts c SET consent_state = NULL
WHERE c.merged_into IS NULL
  AND (EXISTS (SELECT FROM consent_events e WHERE e.contact_id = c.id)
       OR EXISTS (SELECT FROM contacts m WHERE m.merged_into = c.id));

-- +goose Down
ALTER TABLE contacts DROP COLUMN consent_state;
