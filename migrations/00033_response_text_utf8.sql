-- Erasure looks for a person's values in stored Idempotency-Key responses through a trigram
-- index of their text. That text was encode(body, 'escape'), which writes every byte of a
-- non-ASCII character as an octal escape ("Müller" became "m\303\274ller"), so a response
-- quoting a non-ASCII name was never found. The body is UTF-8 JSON: the index now reads it as
-- text (falling back to the escaped bytes for a body that is not UTF-8, so that storing one
-- never fails).

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION response_text(body bytea) RETURNS text LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    RETURN convert_from(body, 'UTF8');
EXCEPTION WHEN character_not_in_repertoire OR untranslatable_character THEN
    RETURN encode(body, 'escape');
END $$;
-- +goose StatementEnd
DROP INDEX idempotency_keys_text_trgm_idx;
CREATE INDEX idempotency_keys_text_trgm_idx ON idempotency_keys
    USING gin ((coalesce(response_text(body), '') || ' ' || headers::text) gin_trgm_ops)
    WITH (fastupdate = off);

-- +goose Down
DROP INDEX idempotency_keys_text_trgm_idx;
CREATE INDEX idempotency_keys_text_trgm_idx ON idempotency_keys
    USING gin ((coalesce(encode(body, 'escape'), '') || ' ' || headers::text) gin_trgm_ops)
    WITH (fastupdate = off);
DROP FUNCTION response_text(bytea);
