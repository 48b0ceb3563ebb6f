//! What can be asked of a chat room.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::chat::{MemberRole, RoomKind};
use crate::values::{MessageBody, RoomName};

/// What a member's message holds.
#[derive(Debug, Clone)]
pub enum MessageContent {
    /// Text.
    Text(MessageBody),
    /// A photo (its use is checked and recorded by the caller), with an optional caption.
    Image {
        /// The upload.
        media_id: Uuid,
        /// Words under it.
        caption: Option<MessageBody>,
    },
}

/// Commands on a [`ChatRoom`](crate::chat::ChatRoom).
#[derive(Debug, Clone)]
pub enum ChatCommand {
    /// Opens the room; the creator is always a member and its owner.
    CreateRoom {
        /// The new room's id.
        room_id: Uuid,
        /// Its name.
        name: RoomName,
        /// Direct (two people), group or public.
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
        /// What it says or shows.
        content: MessageContent,
    },
    /// Someone joins by themselves: anyone a public room, a former member their direct room.
    Join {
        /// Who joins.
        user_id: Uuid,
    },
    /// An owner or admin adds people (existence checked by the caller).
    AddMembers {
        /// Who adds them.
        by: Uuid,
        /// Whom.
        user_ids: Vec<Uuid>,
    },
    /// A member leaves (`by` is `user_id`) or is kicked by an owner or admin.
    RemoveMember {
        /// Who removes.
        by: Uuid,
        /// Who goes.
        user_id: Uuid,
    },
    /// An owner or admin renames the room.
    Rename {
        /// Who renames.
        by: Uuid,
        /// The new name.
        name: RoomName,
    },
    /// The owner gives a member a role; giving `owner` hands the room over.
    SetRole {
        /// Who decides (must own the room).
        by: Uuid,
        /// Whose role.
        user_id: Uuid,
        /// The new role.
        role: MemberRole,
    },
    /// The author changes a message's text.
    EditMessage {
        /// Who edits.
        by: Uuid,
        /// The message.
        message: MessageRef,
        /// The new text.
        body: MessageBody,
    },
    /// The author, or an owner or admin of a group, deletes a message.
    DeleteMessage {
        /// Who deletes.
        by: Uuid,
        /// The message.
        message: MessageRef,
    },
    /// A member has read up to `seq`.
    MarkRead {
        /// Who read.
        user_id: Uuid,
        /// Up to which message.
        seq: u64,
    },
    /// Moim puts a club's new member in the club's room.
    Enrol {
        /// Who.
        user_id: Uuid,
    },
    /// Moim takes a former club member out of the club's room.
    Unenrol {
        /// Who removed them from the club (themselves when they left).
        by: Uuid,
        /// Who.
        user_id: Uuid,
    },
    /// Makes the room read-only for good (a couple's room when they unmatch).
    Archive {
        /// On whose behalf (a member).
        by: Uuid,
    },
}

impl ChatCommand {
    /// Who asks.
    pub fn asker(&self) -> Uuid {
        match self {
            Self::CreateRoom { creator_id, .. } => *creator_id,
            Self::SendMessage { sender_id, .. } => *sender_id,
            Self::Join { user_id } | Self::MarkRead { user_id, .. } | Self::Enrol { user_id } => {
                *user_id
            }
            Self::AddMembers { by, .. }
            | Self::RemoveMember { by, .. }
            | Self::Rename { by, .. }
            | Self::SetRole { by, .. }
            | Self::EditMessage { by, .. }
            | Self::DeleteMessage { by, .. }
            | Self::Unenrol { by, .. }
            | Self::Archive { by } => *by,
        }
    }
}

/// The facts of a sent message that never change, read by the caller from the store: the room
/// keeps no per-message state, so its history can grow without its snapshot growing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageRef {
    /// Its place in the room.
    pub seq: u64,
    /// Who sent it.
    pub sender_id: Uuid,
    /// When.
    pub sent_at: DateTime<Utc>,
}
