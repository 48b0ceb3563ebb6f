-- Rows written before 20261204000005 hold the search pairs PostgreSQL computed, with its own
-- lower() and word split, while the searches now compute a query's pairs in Rust: on a database
-- whose character type is C, lower() leaves non-ASCII capitals alone and such a row would no
-- longer be found. Moim computes those rows' pairs again with the views' own code when it
-- starts, after the migrations (projections/src/search_pairs.rs). Each row here is a table still
-- to do: the key its last finished batch reached, and the last key it must reach (the largest
-- now; rows written later carry the views' pairs). It is deleted when the table is done.
CREATE TABLE search_pairs_backfill (
    target text PRIMARY KEY,
    after  uuid,
    until  uuid
);
INSERT INTO search_pairs_backfill (target, until) VALUES
    ('chat_messages', (SELECT message_id FROM chat_messages ORDER BY message_id DESC LIMIT 1)),
    ('posts', (SELECT post_id FROM posts ORDER BY post_id DESC LIMIT 1));
