//! What happens in a chat room.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::aggregate::DomainEvent;
use crate::chat::{ChatRoom, MemberRole, RoomKind};
use crate::upcast::{self, Upcaster};
use crate::Aggregate;

/// Events of a [`ChatRoom`](crate::chat::ChatRoom). The ones that carry a `seq` are messages in
/// the room's history (sent, or the `system` messages that tell every member who joined, left
/// or renamed the room); the others change a message or a member's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum ChatEvent {
    /// The room was opened.
    RoomCreated(RoomCreated),
    /// A message was sent.
    MessageSent(MessageSent),
    /// People joined or were added (a system message).
    MembersJoined(MembersJoined),
    /// Someone left or was removed (a system message).
    MemberLeft(MemberLeft),
    /// The room got a new name (a system message).
    RoomRenamed(RoomRenamed),
    /// A member's role changed.
    MemberRoleChanged(MemberRoleChanged),
    /// A message's text was changed by its author.
    MessageEdited(MessageEdited),
    /// A message was deleted; it stays in the history as a tombstone.
    MessageDeleted(MessageDeleted),
    /// A member read the room up to a message.
    MessagesRead(MessagesRead),
    /// The room became read-only for good (a dissolved couple's room).
    RoomArchived(RoomArchived),
}

/// Payload of [`ChatEvent::RoomArchived`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RoomArchived {
    /// The room.
    pub room_id: Uuid,
    /// On whose behalf.
    pub by: Uuid,
    /// When.
    pub archived_at: DateTime<Utc>,
}

/// Payload of [`ChatEvent::RoomCreated`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RoomCreated {
    /// The room.
    pub room_id: Uuid,
    /// Its name.
    pub name: String,
    /// Direct or group.
    pub kind: RoomKind,
    /// Who opened it.
    pub created_by: Uuid,
    /// Everyone in it with their role, the creator (the owner) first.
    pub members: Vec<RoomMember>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A member of a room and what they may do there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RoomMember {
    /// The member.
    pub user_id: Uuid,
    /// Their role.
    pub role: MemberRole,
}

/// Payload of [`ChatEvent::MessageSent`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// How many members besides the sender were in the room: the message's first unread count.
    /// Added without a version bump, as an optional field; messages stored before it read 0.
    #[serde(default)]
    pub recipients: u32,
    /// The photo of an image message (its `body` is then the caption, maybe empty). Optional
    /// without a version bump, as `recipients`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_id: Option<Uuid>,
}

/// Payload of [`ChatEvent::MembersJoined`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MembersJoined {
    /// The room.
    pub room_id: Uuid,
    /// The system message's place in the history.
    pub seq: u64,
    /// Who joined, each as a member.
    pub user_ids: Vec<Uuid>,
    /// Who added them (the joiner, for someone joining by themselves).
    pub by: Uuid,
    /// When.
    pub joined_at: DateTime<Utc>,
}

/// Payload of [`ChatEvent::MemberLeft`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MemberLeft {
    /// The room.
    pub room_id: Uuid,
    /// The system message's place in the history: the last one the member may read.
    pub seq: u64,
    /// Who is out.
    pub user_id: Uuid,
    /// Who removed them: themselves for a leave, an owner or admin for a kick.
    pub by: Uuid,
    /// The member who owns the room now, when the owner left.
    pub new_owner: Option<Uuid>,
    /// When.
    pub left_at: DateTime<Utc>,
}

impl MemberLeft {
    /// Whether someone else removed the member.
    pub fn kicked(&self) -> bool {
        self.by != self.user_id
    }
}

/// Payload of [`ChatEvent::RoomRenamed`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RoomRenamed {
    /// The room.
    pub room_id: Uuid,
    /// The system message's place in the history.
    pub seq: u64,
    /// The new name.
    pub name: String,
    /// Who renamed it.
    pub by: Uuid,
    /// When.
    pub renamed_at: DateTime<Utc>,
}

/// Payload of [`ChatEvent::MemberRoleChanged`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MemberRoleChanged {
    /// The room.
    pub room_id: Uuid,
    /// Whose role.
    pub user_id: Uuid,
    /// The new role.
    pub role: MemberRole,
    /// Who changed it (the owner).
    pub by: Uuid,
    /// When.
    pub changed_at: DateTime<Utc>,
}

/// Payload of [`ChatEvent::MessageEdited`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MessageEdited {
    /// The room.
    pub room_id: Uuid,
    /// The message.
    pub seq: u64,
    /// Its new text.
    pub body: String,
    /// When.
    pub edited_at: DateTime<Utc>,
}

/// Payload of [`ChatEvent::MessageDeleted`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MessageDeleted {
    /// The room.
    pub room_id: Uuid,
    /// The message.
    pub seq: u64,
    /// Its author, or the owner or admin who removed it.
    pub by: Uuid,
    /// When.
    pub deleted_at: DateTime<Utc>,
}

/// Payload of [`ChatEvent::MessagesRead`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MessagesRead {
    /// The room.
    pub room_id: Uuid,
    /// Who read.
    pub user_id: Uuid,
    /// Their read pointer now: every message up to this seq is read.
    pub seq: u64,
    /// When.
    pub read_at: DateTime<Utc>,
}

/// The id of the one direct room two people share, whichever of them opens it: being derived
/// from the pair, two people opening it at the same moment race for one aggregate, and the
/// store lets exactly one of them create it.
pub fn direct_room_id(a: Uuid, b: Uuid) -> Uuid {
    let (low, high) = if a <= b { (a, b) } else { (b, a) };
    let mut name = [0u8; 33];
    name[0] = b'd';
    name[1..17].copy_from_slice(low.as_bytes());
    name[17..].copy_from_slice(high.as_bytes());
    Uuid::new_v5(&Uuid::NAMESPACE_OID, &name)
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

impl ChatEvent {
    /// The event's place in the room's history, for the events that are messages there.
    pub fn seq(&self) -> Option<u64> {
        match self {
            Self::MessageSent(e) => Some(e.seq),
            Self::MembersJoined(e) => Some(e.seq),
            Self::MemberLeft(e) => Some(e.seq),
            Self::RoomRenamed(e) => Some(e.seq),
            Self::RoomCreated(_)
            | Self::MemberRoleChanged(_)
            | Self::MessageEdited(_)
            | Self::MessageDeleted(_)
            | Self::MessagesRead(_)
            | Self::RoomArchived(_) => None,
        }
    }
}

impl DomainEvent for ChatEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::RoomCreated(_) => "RoomCreated",
            Self::MessageSent(_) => "MessageSent",
            Self::MembersJoined(_) => "MembersJoined",
            Self::MemberLeft(_) => "MemberLeft",
            Self::RoomRenamed(_) => "RoomRenamed",
            Self::MemberRoleChanged(_) => "MemberRoleChanged",
            Self::MessageEdited(_) => "MessageEdited",
            Self::MessageDeleted(_) => "MessageDeleted",
            Self::MessagesRead(_) => "MessagesRead",
            Self::RoomArchived(_) => "RoomArchived",
        }
    }

    fn event_version(&self) -> &'static str {
        match self {
            // v2: `member_ids` became `members` with a role each.
            Self::RoomCreated(_) => "2",
            _ => "1",
        }
    }

    fn idempotency_id(&self) -> Option<Uuid> {
        match self {
            Self::MessageSent(m) => Some(m.message_id),
            _ => None,
        }
    }
}

/// `RoomCreated` v1 listed `member_ids`; v2 lists `members` with roles. A v1 room's creator is
/// its owner and everyone else a member, which is what v1 rooms meant.
pub(crate) const ROOM_CREATED_V1_TO_V2: Upcaster = Upcaster {
    aggregate_type: ChatRoom::TYPE,
    event_type: "RoomCreated",
    from: "1",
    to: "2",
    rewrite: room_created_v1_to_v2,
};

fn room_created_v1_to_v2(mut payload: Value) -> Value {
    if let Some(fields) = upcast::fields(&mut payload, "RoomCreated") {
        let creator = fields.get("created_by").cloned().unwrap_or(Value::Null);
        let ids = match fields.remove("member_ids") {
            Some(Value::Array(ids)) => ids,
            _ => Vec::new(),
        };
        let members = ids
            .into_iter()
            .map(|id| {
                let role = if id == creator { "owner" } else { "member" };
                json!({ "user_id": id, "role": role })
            })
            .collect();
        fields.insert("members".into(), Value::Array(members));
    }
    payload
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_has_one_direct_room_whoever_opens_it() {
        let (kim, lee, park) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        assert_eq!(direct_room_id(kim, lee), direct_room_id(lee, kim));
        assert_ne!(direct_room_id(kim, lee), direct_room_id(kim, park));
        assert_ne!(
            direct_room_id(kim, lee),
            message_id_for(kim, lee, Uuid::nil())
        );
    }

    #[test]
    fn a_v1_room_reads_as_v2_with_the_creator_as_owner() {
        let (kim, lee) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let v1 = json!({"RoomCreated": {
            "room_id": Uuid::from_u128(9), "name": "us", "kind": "direct", "created_by": kim,
            "member_ids": [kim, lee], "created_at": "2026-01-01T00:00:00Z"}});
        let (version, payload) = upcast::upcast("chat_room", "RoomCreated", "1", v1);
        assert_eq!(version, "2");
        let Ok(ChatEvent::RoomCreated(room)) = serde_json::from_value::<ChatEvent>(payload) else {
            panic!("not a RoomCreated v2");
        };
        assert_eq!(
            room.members,
            vec![
                RoomMember {
                    user_id: kim,
                    role: MemberRole::Owner
                },
                RoomMember {
                    user_id: lee,
                    role: MemberRole::Member
                },
            ]
        );
    }

    #[test]
    fn a_payload_read_from_its_text_reads_as_from_a_value_old_or_new() {
        let kim = Uuid::from_u128(1);
        let v1 = json!({"RoomCreated": {
            "room_id": Uuid::from_u128(9), "name": "us", "kind": "direct", "created_by": kim,
            "member_ids": [kim], "created_at": "2026-01-01T00:00:00Z"}});
        let (_, v2) = upcast::upcast("chat_room", "RoomCreated", "1", v1.clone());
        for (version, payload) in [("1", v1), ("2", v2)] {
            let owned: ChatEvent =
                upcast::decode("chat_room", "RoomCreated", version, payload.clone()).unwrap();
            let text: ChatEvent =
                upcast::decode_text("chat_room", "RoomCreated", version, &payload.to_string())
                    .unwrap();
            assert_eq!(owned, text);
        }
    }
}
