-- Each search pair is stored as one integer, its two characters' code points side by side
-- (projections/src/bigrams.rs), not as a two-character text: the pair indexes then compare
-- integers, and the chat one builds in half the time (docs/performance.md). Two pairs are equal
-- exactly when their characters are, so every search finds what it found before. Changing the
-- type rebuilds the two indexes once.
CREATE FUNCTION moim_pairs_as_integers(grams text[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT COALESCE(array_agg(p ORDER BY p), '{}')
    FROM (SELECT DISTINCT (ascii(substr(g, 1, 1))::bigint << 21) | ascii(substr(g, 2, 1)) AS p
          FROM unnest(grams) g WHERE char_length(g) = 2) pairs
$$;
ALTER TABLE chat_messages ALTER COLUMN grams DROP DEFAULT,
    ALTER COLUMN grams TYPE bigint[] USING moim_pairs_as_integers(grams),
    ALTER COLUMN grams SET DEFAULT '{}';
ALTER TABLE posts ALTER COLUMN grams DROP DEFAULT,
    ALTER COLUMN grams TYPE bigint[] USING moim_pairs_as_integers(grams),
    ALTER COLUMN grams SET DEFAULT '{}';
DROP FUNCTION moim_pairs_as_integers(text[]);
