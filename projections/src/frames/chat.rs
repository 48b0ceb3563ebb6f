//! The shapes of chat frames. [`ChatMessage`] is one thing everywhere a client meets a message:
//! the `201` of a send, the data of `message.sent` and of the `room.*` frames that are system
//! messages, an entry of history and of search results.

use chrono::{DateTime, Utc};
use domain::chat::{ChatEvent, MemberRole, MessageSent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A chat message. A deleted one is a tombstone: `deleted` is true and `body` is null.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ChatMessage {
    /// The message.
    pub message_id: Uuid,
    /// The room.
    pub room_id: Uuid,
    /// Its number in the room: 1, 2, 3, … with no gaps, system messages included.
    pub seq: i64,
    /// `text` or `system`.
    #[sqlx(try_from = "String")]
    pub kind: MessageKind,
    /// Who sent it (for a system message, who acted).
    pub sender_id: Uuid,
    /// The sender's own id for it (what a retry sends again); null on system messages.
    pub client_msg_id: Option<Uuid>,
    /// The text; null when deleted and on system messages.
    pub body: Option<String>,
    /// What a system message tells.
    #[sqlx(json(nullable))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemNote>,
    /// Whether it was deleted.
    pub deleted: bool,
    /// When its text was last changed.
    pub edited_at: Option<DateTime<Utc>>,
    /// When.
    pub sent_at: DateTime<Utc>,
    /// How many current members besides the sender have not read it (0 on system messages).
    pub unread_count: i64,
    /// The photo of an `image` message (`GET /media/{id}/urls` gives addresses for it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_id: Option<Uuid>,
}

/// What kind of message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    /// Written by a member.
    Text,
    /// A photo a member sent, maybe with a caption.
    Image,
    /// Written by Moim: who joined, left or renamed the room.
    System,
}

impl MessageKind {
    /// The name stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Image => "image",
            Self::System => "system",
        }
    }
}

impl TryFrom<String> for MessageKind {
    type Error = String;

    fn try_from(kind: String) -> Result<Self, String> {
        match kind.as_str() {
            "text" => Ok(Self::Text),
            "image" => Ok(Self::Image),
            "system" => Ok(Self::System),
            _ => Err(format!("unknown message kind {kind:?}")),
        }
    }
}

/// What a system message tells, `{"action": …, …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum SystemNote {
    /// People joined, or the sender added them.
    MembersJoined {
        /// Who.
        user_ids: Vec<Uuid>,
    },
    /// Someone left.
    MemberLeft {
        /// Who.
        user_id: Uuid,
        /// Who owns the room now, when the owner left.
        new_owner: Option<Uuid>,
    },
    /// The sender removed someone.
    MemberKicked {
        /// Who.
        user_id: Uuid,
        /// Who owns the room now, when the owner was removed.
        new_owner: Option<Uuid>,
    },
    /// The sender renamed the room.
    RoomRenamed {
        /// The new name.
        name: String,
    },
}

impl ChatMessage {
    /// A system message, as stored and as pushed.
    pub fn system(
        message_id: Uuid,
        room_id: Uuid,
        seq: u64,
        by: Uuid,
        note: SystemNote,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            message_id,
            room_id,
            seq: seq_of(seq),
            kind: MessageKind::System,
            sender_id: by,
            client_msg_id: None,
            body: None,
            system: Some(note),
            deleted: false,
            edited_at: None,
            sent_at: at,
            unread_count: 0,
            media_id: None,
        }
    }
}

impl ChatMessage {
    /// The system message a membership or name change is in the history, with the event's id
    /// as its message id; `None` for the events that are not messages.
    pub fn of_system_event(event_id: Uuid, event: &ChatEvent) -> Option<Self> {
        let (room_id, seq, by, note, at) = match event {
            ChatEvent::MembersJoined(e) => (
                e.room_id,
                e.seq,
                e.by,
                SystemNote::MembersJoined {
                    user_ids: e.user_ids.clone(),
                },
                e.joined_at,
            ),
            ChatEvent::MemberLeft(e) => {
                let (user_id, new_owner) = (e.user_id, e.new_owner);
                let note = if e.kicked() {
                    SystemNote::MemberKicked { user_id, new_owner }
                } else {
                    SystemNote::MemberLeft { user_id, new_owner }
                };
                (e.room_id, e.seq, e.by, note, e.left_at)
            }
            ChatEvent::RoomRenamed(e) => (
                e.room_id,
                e.seq,
                e.by,
                SystemNote::RoomRenamed {
                    name: e.name.clone(),
                },
                e.renamed_at,
            ),
            _ => return None,
        };
        Some(Self::system(event_id, room_id, seq, by, note, at))
    }
}

impl From<MessageSent> for ChatMessage {
    fn from(m: MessageSent) -> Self {
        Self {
            message_id: m.message_id,
            room_id: m.room_id,
            seq: seq_of(m.seq),
            kind: if m.media_id.is_some() {
                MessageKind::Image
            } else {
                MessageKind::Text
            },
            sender_id: m.sender_id,
            client_msg_id: Some(m.client_msg_id),
            body: Some(m.body),
            system: None,
            deleted: false,
            edited_at: None,
            sent_at: m.sent_at,
            // Nobody but the sender has read it yet.
            unread_count: i64::from(m.recipients),
            media_id: m.media_id,
        }
    }
}

/// A seq as stored (PostgreSQL has no unsigned integers; no room reaches 2^63 messages).
pub fn seq_of(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

impl From<domain::chat::MessageEdited> for EditedMessage {
    fn from(e: domain::chat::MessageEdited) -> Self {
        Self {
            room_id: e.room_id,
            seq: seq_of(e.seq),
            body: e.body,
            edited_at: e.edited_at,
        }
    }
}

/// Data of `message.edited`, and the answer to `PATCH …/messages/{seq}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EditedMessage {
    /// The room.
    pub room_id: Uuid,
    /// The message.
    pub seq: i64,
    /// Its new text.
    pub body: String,
    /// When.
    pub edited_at: DateTime<Utc>,
}

/// Data of `message.deleted`, and the answer to `DELETE …/messages/{seq}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeletedMessage {
    /// The room.
    pub room_id: Uuid,
    /// The message, now a tombstone.
    pub seq: i64,
}

/// Data of `room.role_changed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RoleChange {
    /// The room.
    pub room_id: Uuid,
    /// Whose role.
    pub user_id: Uuid,
    /// The new role.
    pub role: MemberRole,
}

/// Data of `room.read`, and the answer to `POST …/read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReadPointer {
    /// The room.
    pub room_id: Uuid,
    /// Who read.
    pub user_id: Uuid,
    /// Everything up to this seq is read.
    pub seq: i64,
}
