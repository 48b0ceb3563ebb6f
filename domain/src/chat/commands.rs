//! What can be asked of a chat room.

use uuid::Uuid;

use crate::chat::RoomKind;
use crate::values::{MessageBody, RoomName};

/// Commands on a [`ChatRoom`](crate::chat::ChatRoom).
#[derive(Debug, Clone)]
pub enum ChatCommand {
    /// Opens the room; the creator is always a member.
    CreateRoom {
        /// The new room's id.
        room_id: Uuid,
        /// Its name.
        name: RoomName,
        /// Direct (two people) or group.
        kind: RoomKind,
        /// Who creates it.
        creator_id: Uuid,
        /// The other members (existence checked by the caller).
        member_ids: Vec<Uuid>,
    },
    /// Sends a message; a repeated `client_msg_id` from the same sender is the same message.
    SendMessage {
        /// Who sends it.
        sender_id: Uuid,
        /// The client's id for this message, for safe retries.
        client_msg_id: Uuid,
        /// The text.
        body: MessageBody,
    },
}
