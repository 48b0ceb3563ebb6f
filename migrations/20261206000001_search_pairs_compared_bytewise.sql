-- The search pairs are compared byte by byte. A pair index sorts its keys with the column's
-- collation, and any collation other than "C" compares through the C library's strcoll: a
-- third of the time a replay spends building the chat search index (docs/performance.md),
-- and as much of every live insert into it. Containment (`@>`) asks only whether pairs are
-- equal, which every deterministic collation answers alike, so no search finds anything
-- other than before. Changing the type rebuilds the two indexes once.
ALTER TABLE chat_messages ALTER COLUMN grams TYPE text[] COLLATE "C";
ALTER TABLE posts ALTER COLUMN grams TYPE text[] COLLATE "C";
