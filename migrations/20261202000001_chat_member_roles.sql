-- projections::chat: a member's role in a room (RoomCreated v2 records one per member).
ALTER TABLE chat_room_members ADD COLUMN role text NOT NULL DEFAULT 'member'
    CHECK (role IN ('owner', 'admin', 'member'));
-- Rooms created before roles: their creator owns them, as the RoomCreated upcaster says.
UPDATE chat_room_members m SET role = 'owner'
FROM chat_rooms r WHERE r.room_id = m.room_id AND r.created_by = m.user_id;
