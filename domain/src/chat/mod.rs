//! Chat rooms: who is in a room with which role, the numbered messages of its history (sent ones
//! and system ones), edits, tombstones and how far each member has read.

mod aggregate;
mod commands;
mod events;

pub use aggregate::{Access, ChatError, ChatRoom, MemberRole, RoomKind};
pub use commands::{ChatCommand, MessageContent, MessageRef};
pub(crate) use events::ROOM_CREATED_V1_TO_V2;
pub use events::{
    direct_room_id, message_id_for, ChatEvent, MemberLeft, MemberRoleChanged, MembersJoined,
    MessageDeleted, MessageEdited, MessageSent, MessagesRead, RoomArchived, RoomCreated,
    RoomMember, RoomRenamed,
};
