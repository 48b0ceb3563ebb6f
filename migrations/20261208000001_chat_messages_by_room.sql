-- The messages are split by room into four hash partitions. A replay fills the shadow table and
-- then builds its search index, which PostgreSQL 15 builds on one backend: split, the four
-- partitions' indexes build side by side, on every core (docs/performance.md, "Replay, seventh
-- slice"). Every query names its rooms, so it reads only their partitions.
--
-- A unique constraint on a partitioned table must hold the partition key, so the message id is
-- unique within its room (message ids are event ids, unique in the store), and as an index, not
-- a constraint: a replay builds it per partition after filling and attaches the parts, which a
-- constraint cannot be made of. Lookups and walks by message id use it as before.
ALTER TABLE chat_messages RENAME TO chat_messages_unsplit;
ALTER TABLE chat_messages_unsplit DROP CONSTRAINT chat_messages_pkey,
    DROP CONSTRAINT chat_messages_message_id_key;
DROP INDEX chat_messages_grams;
ALTER TABLE chat_messages_unsplit RENAME CONSTRAINT chat_messages_kind_check
    TO chat_messages_unsplit_kind_check;

CREATE TABLE chat_messages (LIKE chat_messages_unsplit INCLUDING DEFAULTS EXCLUDING CONSTRAINTS)
    PARTITION BY HASH (room_id);
ALTER TABLE chat_messages ADD CONSTRAINT chat_messages_kind_check
    CHECK (kind IN ('text', 'image', 'system'));
CREATE TABLE chat_messages_0 PARTITION OF chat_messages FOR VALUES WITH (MODULUS 4, REMAINDER 0);
CREATE TABLE chat_messages_1 PARTITION OF chat_messages FOR VALUES WITH (MODULUS 4, REMAINDER 1);
CREATE TABLE chat_messages_2 PARTITION OF chat_messages FOR VALUES WITH (MODULUS 4, REMAINDER 2);
CREATE TABLE chat_messages_3 PARTITION OF chat_messages FOR VALUES WITH (MODULUS 4, REMAINDER 3);

INSERT INTO chat_messages SELECT * FROM chat_messages_unsplit;
DROP TABLE chat_messages_unsplit;

ALTER TABLE chat_messages ADD CONSTRAINT chat_messages_pkey PRIMARY KEY (room_id, seq);
CREATE UNIQUE INDEX chat_messages_message_id_key ON chat_messages (message_id, room_id);
CREATE INDEX chat_messages_grams ON chat_messages USING gin (room_id, grams) WITH (fastupdate = off);
