//! Chat rooms: who is in a room and the numbered messages sent in it.

mod aggregate;
mod commands;
mod events;

pub use aggregate::{ChatError, ChatRoom, RoomKind};
pub use commands::ChatCommand;
pub use events::{message_id_for, ChatEvent, MessageSent, RoomCreated};
