-- Rows written before 20261204000005 hold the search pairs PostgreSQL computed, with its own
-- lower() and word split, while the searches now compute a query's pairs in Rust: on a database
-- whose character type is C, lower() leaves non-ASCII capitals alone and such a row would no
-- longer be found. Moim computes those rows' pairs again with the views' own code when it
-- starts, after the migrations (projections/src/search_pairs.rs). Each row here is a table still
-- to do and the key its last finished batch reached; it is deleted when the table is done.
CREATE TABLE search_pairs_backfill (
    target text PRIMARY KEY,
    after  uuid
);
INSERT INTO search_pairs_backfill (target) VALUES ('chat_messages'), ('posts');
