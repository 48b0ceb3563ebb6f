-- The search indexes take new rows into a small pending list (256 kB) again, merged into the
-- index a list at a time. Taking each row's entries as it is written (`fastupdate = off`, since
-- `…_search_index_upkeep.sql`) cost a message about 100 µs of PostgreSQL's CPU for its 28-odd
-- entries, the largest part of the chat view's work; a small list takes the same rows for a
-- quarter of that, and each merge is bounded by the list's size, so no insert waits long for one
-- (the default list of 4 MB made some wait seconds). Searches read the list besides the index.
-- ALTER INDEX cannot set a partitioned index's options, so each partition's index is set (a
-- replay copies those); the parent's still say `fastupdate = off`, which only a partition added
-- later would take (docs/performance.md, "Two round trips a send fewer, and search indexes with
-- a small pending list").
DO $$
DECLARE
    part regclass;
BEGIN
    FOR part IN SELECT inhrelid::regclass FROM pg_inherits
                WHERE inhparent = 'chat_messages_grams'::regclass
    LOOP
        EXECUTE format('ALTER INDEX %s SET (fastupdate = on, gin_pending_list_limit = 256)', part);
    END LOOP;
END $$;
ALTER INDEX posts_grams SET (fastupdate = on, gin_pending_list_limit = 256);
