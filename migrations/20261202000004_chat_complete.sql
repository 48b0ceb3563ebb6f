-- Chat, complete: room kinds and management, system messages, edits, tombstones, read pointers,
-- unread counts and search.

-- Event store: a message's unchanging facts are found by room and number (edits and deletes
-- name messages by seq), without reading the room's whole stream.
CREATE INDEX events_message_seq ON events (aggregate_id, ((payload->'MessageSent'->>'seq')::bigint))
    WHERE event_type = 'MessageSent';

-- The room's state gained kind, join order, read pointers and tombstones: snapshots taken in the
-- old shape are dropped (they are a cache of the events; the next load replays and takes a new one).
DELETE FROM snapshots WHERE aggregate_type = 'chat_room';

-- projections::chat
ALTER TABLE chat_rooms
    -- Messages other than system ones, up to the last: unread = this minus `n` at one's pointer.
    ADD COLUMN text_count    bigint NOT NULL DEFAULT 0,
    ADD COLUMN members_count bigint NOT NULL DEFAULT 0;
UPDATE chat_rooms r SET text_count = r.last_seq,
    members_count = (SELECT count(*) FROM chat_room_members m WHERE m.room_id = r.room_id);
CREATE INDEX chat_rooms_public ON chat_rooms (created_at DESC, room_id DESC) WHERE kind = 'public';

ALTER TABLE chat_room_members
    ADD COLUMN joined_seq    bigint NOT NULL DEFAULT 0,
    -- Set when the member left or was removed: the last seq they may read.
    ADD COLUMN left_seq      bigint,
    ADD COLUMN last_read_seq bigint NOT NULL DEFAULT 0;

-- Search: every pair of neighbouring characters within a word, lower-cased. Korean words are
-- short and unspaced inside (안녕하세요), so pairs, not pg_trgm's triples, are what a two-syllable
-- query like 안녕 or 하세요 can be looked up by. A query's pairs must all be among a message's,
-- then the text itself is checked. A deleted message (body NULL) has none.
CREATE FUNCTION moim_bigrams(t text) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT substr(w, i, 2)), '{}')
    FROM regexp_split_to_table(lower(t), '\s+') AS w, generate_series(1, length(w) - 1) AS i
$$;

ALTER TABLE chat_messages
    ALTER COLUMN client_msg_id DROP NOT NULL,
    ALTER COLUMN body DROP NOT NULL,
    ADD COLUMN kind       text        NOT NULL DEFAULT 'text' CHECK (kind IN ('text', 'system')),
    ADD COLUMN system     jsonb,
    ADD COLUMN recipients integer     NOT NULL DEFAULT 0,
    ADD COLUMN edited_at  timestamptz,
    ADD COLUMN deleted    boolean     NOT NULL DEFAULT false,
    -- Messages other than system ones up to and including this seq.
    ADD COLUMN n          bigint      NOT NULL DEFAULT 0,
    ADD COLUMN grams      text[] GENERATED ALWAYS AS (moim_bigrams(body)) STORED;
UPDATE chat_messages SET n = seq;
-- Room first (btree_gin), so a search costs what the caller's rooms hold, not the whole table:
-- one room's search reads that room's entries; an all-rooms search reads each of the caller's.
CREATE EXTENSION IF NOT EXISTS btree_gin;
CREATE INDEX chat_messages_grams ON chat_messages USING gin (room_id, grams);
