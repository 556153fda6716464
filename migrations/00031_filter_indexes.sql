-- Filters that read a page in id order by index (package contact, filter.go).
--
-- The email domain filter read every contact of a small domain's domain index entries and
-- sorted them, or walked the whole table in id order for a rare one: its btree now ends with the
-- id, so a domain's contacts come in id order (the domain prefix search still uses its start).

-- +goose Up
DROP INDEX contacts_email_domain_idx;
CREATE INDEX contacts_email_domain_idx ON contacts ((lower(split_part(email_normalized, '@', 2))) text_pattern_ops, id)
    WHERE email_normalized IS NOT NULL;

-- +goose Down
DROP INDEX contacts_email_domain_idx;
CREATE INDEX contacts_email_domain_idx ON contacts ((lower(split_part(email_normalized, '@', 2))) text_pattern_ops)
    WHERE email_normalized IS NOT NULL;
