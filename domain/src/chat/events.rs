//! What happens in a chat room.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::aggregate::DomainEvent;
use crate::chat::RoomKind;

/// Events of a [`ChatRoom`](crate::chat::ChatRoom).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ChatEvent {
    /// The room was opened.
    RoomCreated(RoomCreated),
    /// A message was sent.
    MessageSent(MessageSent),
}

/// Payload of [`ChatEvent::RoomCreated`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomCreated {
    /// The room.
    pub room_id: Uuid,
    /// Its name.
    pub name: String,
    /// Direct or group.
    pub kind: RoomKind,
    /// Who opened it.
    pub created_by: Uuid,
    /// Everyone in it, the creator first.
    pub member_ids: Vec<Uuid>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// Payload of [`ChatEvent::MessageSent`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageSent {
    /// Derived from room, sender and `client_msg_id`, see [`message_id_for`].
    pub message_id: Uuid,
    /// The room.
    pub room_id: Uuid,
    /// Position in the room: 1, 2, 3, … with no gaps.
    pub seq: u64,
    /// Who sent it.
    pub sender_id: Uuid,
    /// The client's id for it.
    pub client_msg_id: Uuid,
    /// The text.
    pub body: String,
    /// When.
    pub sent_at: DateTime<Utc>,
}

/// The id of the message a sender's `client_msg_id` stands for in a room. Being derived rather
/// than drawn, a retried send maps to the same id, which the event store keeps unique.
pub fn message_id_for(room_id: Uuid, sender_id: Uuid, client_msg_id: Uuid) -> Uuid {
    let mut name = [0u8; 48];
    name[..16].copy_from_slice(room_id.as_bytes());
    name[16..32].copy_from_slice(sender_id.as_bytes());
    name[32..].copy_from_slice(client_msg_id.as_bytes());
    Uuid::new_v5(&Uuid::NAMESPACE_OID, &name)
}

impl DomainEvent for ChatEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::RoomCreated(_) => "RoomCreated",
            Self::MessageSent(_) => "MessageSent",
        }
    }

    fn event_version(&self) -> &'static str {
        "1"
    }

    fn idempotency_id(&self) -> Option<Uuid> {
        match self {
            Self::MessageSent(m) => Some(m.message_id),
            Self::RoomCreated(_) => None,
        }
    }
}
