-- Room frames are now published once per room, with a new push shape; pushes left in the outbox
-- by a crashed notifier of the old shape are dropped (a resuming socket replays them from the
-- events).
DELETE FROM push_outbox;
-- A socket follows the rooms its user is in, looked up by user.
CREATE INDEX notifier_room_members_user ON notifier_room_members (user_id, room_id);
-- A user's own frames carry a cursor (the global position of the event they come from), and a
-- resuming socket replays the feed after it. Being put in a room is one of them: with the room
-- and its change number, so a replay can follow the room from there.
ALTER TABLE notifications
    ADD COLUMN at_tx bigint NOT NULL DEFAULT 0,
    ADD COLUMN at_pos bigint NOT NULL DEFAULT 0,
    ADD COLUMN room_id uuid,
    ADD COLUMN rev bigint;
CREATE INDEX notifications_cursor ON notifications (user_id, at_tx, at_pos);
-- Which message each member joined at, so frames about older messages (an edit, a deletion)
-- reach only those who can read them. Existing members take the chat view's join.
ALTER TABLE notifier_room_members ADD COLUMN joined_seq bigint NOT NULL DEFAULT 0;
UPDATE notifier_room_members n SET joined_seq = c.joined_seq
FROM chat_room_members c
WHERE c.room_id = n.room_id AND c.user_id = n.user_id AND c.left_seq IS NULL;
-- Members of rooms that existed before read pointers were kept start at 0, so everything they
-- ever sent counted as unread for them; a rebuild (and the room itself) puts a sender's pointer
-- at their latest message.
UPDATE chat_room_members m SET last_read_seq = GREATEST(m.last_read_seq, COALESCE(
    (SELECT max(c.seq) FROM chat_messages c WHERE c.room_id = m.room_id AND c.sender_id = m.user_id
        AND c.kind = 'text' AND c.seq >= m.joined_seq), 0));
-- A message's unread count looks at the current members' pointers.
CREATE INDEX chat_room_members_reading ON chat_room_members (room_id, last_read_seq)
    WHERE left_seq IS NULL;
