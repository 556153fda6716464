-- +goose Up
-- A merge's snapshot (every value of every merged contact, ~4 KB of JSON) is compressed when
-- it is stored. A full scan stores one per cluster, hundreds of thousands at a time, and
-- pglz's compression is a noticeable part of that; lz4 compresses several times faster. Servers
-- built without lz4 keep the default.
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        ALTER TABLE merges ALTER COLUMN snapshot SET COMPRESSION lz4;
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression') THEN
        ALTER TABLE merges ALTER COLUMN snapshot SET COMPRESSION default;
    END IF;
END
$$;
-- +goose StatementEnd
