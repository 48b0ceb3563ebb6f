-- The search indexes take each row's entries as it is written. With GIN's default pending list,
-- every few thousand messages one insert paid for merging the whole list (seconds, under load),
-- and the chat view, which writes messages in order, stalled behind it: that was the long tail
-- of a message's way to the other members' sockets (docs/performance.md).
ALTER INDEX chat_messages_grams SET (fastupdate = off);
ALTER INDEX posts_grams SET (fastupdate = off);
