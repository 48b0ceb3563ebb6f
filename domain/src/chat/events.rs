//! What happens in a chat room.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::aggregate::DomainEvent;
use crate::chat::{ChatRoom, MemberRole, RoomKind};
use crate::upcast::{self, Upcaster};
use crate::Aggregate;

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
    /// Everyone in it with their role, the creator (the owner) first.
    pub members: Vec<RoomMember>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A member of a room and what they may do there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomMember {
    /// The member.
    pub user_id: Uuid,
    /// Their role.
    pub role: MemberRole,
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

impl DomainEvent for ChatEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::RoomCreated(_) => "RoomCreated",
            Self::MessageSent(_) => "MessageSent",
        }
    }

    fn event_version(&self) -> &'static str {
        match self {
            // v2: `member_ids` became `members` with a role each.
            Self::RoomCreated(_) => "2",
            Self::MessageSent(_) => "1",
        }
    }

    fn idempotency_id(&self) -> Option<Uuid> {
        match self {
            Self::MessageSent(m) => Some(m.message_id),
            Self::RoomCreated(_) => None,
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
}
