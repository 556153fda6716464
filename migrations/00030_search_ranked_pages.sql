-- Search pages that stop early, and typo distances that count a transposition as one edit
-- (package contact owns all of it; see contact/search.go).
--
-- A relevance page now reads, for each name a search word is close to, at most a page of the
-- contacts with that first name, that last name, that company or title word, in id order (a
-- contact's score comes from the name, and ties go by id): a common first name no longer makes
-- a search read its ~80k contacts. The first name already has its (first, id) btree; the last
-- name gets one here ((last, first, id) stays for two-word searches).

-- +goose Up
CREATE INDEX contacts_last_name_search_idx ON contacts (lower(last_name), id);

-- search_word_distance is the optimal string alignment distance (Damerau-Levenshtein without
-- editing a substring twice): insertions, deletions, substitutions and transpositions of two
-- adjacent letters each count one, so "jhon" is one edit from "john", as people mistype.
-- +goose StatementBegin
CREATE FUNCTION search_word_distance(a text, b text) RETURNS integer LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    la integer := length(a);
    lb integer := length(b);
    w integer := lb + 1;
    d integer[];
    cost integer;
BEGIN
    IF la = 0 OR lb = 0 THEN
        RETURN greatest(la, lb);
    END IF;
    d := array_fill(0, ARRAY[(la + 1) * w]);
    FOR i IN 0..la LOOP
        d[i * w + 1] := i;
    END LOOP;
    FOR j IN 0..lb LOOP
        d[j + 1] := j;
    END LOOP;
    FOR i IN 1..la LOOP
        FOR j IN 1..lb LOOP
            cost := CASE WHEN substr(a, i, 1) = substr(b, j, 1) THEN 0 ELSE 1 END;
            d[i * w + j + 1] := least(d[(i - 1) * w + j + 1] + 1, d[i * w + j] + 1, d[(i - 1) * w + j] + cost);
            IF i > 1 AND j > 1 AND substr(a, i, 1) = substr(b, j - 1, 1) AND substr(a, i - 1, 1) = substr(b, j, 1) THEN
                d[i * w + j + 1] := least(d[i * w + j + 1], d[(i - 2) * w + j - 1] + 1);
            END IF;
        END LOOP;
    END LOOP;
    RETURN d[la * w + lb + 1];
END $$;
-- +goose StatementEnd

-- A name's closeness to a search word counts edits the Damerau way. It is computed once per name
-- a word is close to (a few dozen), not per contact.
CREATE OR REPLACE FUNCTION search_term_score(word text, term text) RETURNS real LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE
        WHEN term = word THEN 1
        WHEN starts_with(term, word) THEN 0.6 + 0.4 * length(word) / length(term)
        WHEN length(word) > 255 OR length(term) > 255 THEN 0
        ELSE greatest(0, 1 - search_word_distance(word, term)::real / greatest(length(word), length(term)))
    END;

-- +goose Down
CREATE OR REPLACE FUNCTION search_term_score(word text, term text) RETURNS real LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE
        WHEN term = word THEN 1
        WHEN starts_with(term, word) THEN 0.6 + 0.4 * length(word) / length(term)
        WHEN length(word) > 255 OR length(term) > 255 THEN 0
        ELSE greatest(0, 1 - levenshtein(word, term)::real / greatest(length(word), length(term)))
    END;
DROP FUNCTION search_word_distance;
DROP INDEX contacts_last_name_search_idx;
