-- A contact's postal address: the mail channel (letters) needs one, and CRMs import and export it
-- (HubSpot's address/city/state/zip/country, Salesforce's Mailing* fields, vCard ADR). Five
-- text fields of the field registry, merged as one unit (a survivor never gets a street from one
-- record and a city from another). Nullable columns: adding them rewrites nothing.

-- +goose Up
ALTER TABLE contacts ADD COLUMN street text, ADD COLUMN city text, ADD COLUMN region text,
    ADD COLUMN postal_code text, ADD COLUMN country text;

-- +goose Down
ALTER TABLE contacts DROP COLUMN street, DROP COLUMN city, DROP COLUMN region, DROP COLUMN postal_code,
    DROP COLUMN country;
