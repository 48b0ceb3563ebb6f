//! Chat rooms: who is in a room and the numbered messages sent in it.

mod aggregate;
mod commands;
mod events;

pub use aggregate::{ChatError, ChatRoom, MemberRole, RoomKind};
pub use commands::ChatCommand;
pub(crate) use events::ROOM_CREATED_V1_TO_V2;
pub use events::{direct_room_id, message_id_for, ChatEvent, MessageSent, RoomCreated, RoomMember};
