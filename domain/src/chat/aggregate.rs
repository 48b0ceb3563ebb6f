//! The chat room aggregate: membership and the message counter.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use crate::aggregate::Aggregate;
use crate::chat::{message_id_for, ChatCommand, ChatEvent, MessageSent, RoomCreated, RoomMember};
use crate::error::{ErrorKind, Rejection};
use crate::services::Services;

/// A direct room holds exactly two people; a group room up to [`ChatRoom::MAX_MEMBERS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoomKind {
    /// Two people.
    Direct,
    /// Any number of people.
    Group,
}

/// What a member may do in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberRole {
    /// Opened the room.
    Owner,
    /// Helps the owner run it.
    Admin,
    /// Takes part.
    Member,
}

/// State kept per room. Messages themselves live only in events and read models, so the state
/// (and its snapshot) stays small however long the room's history grows.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChatRoom {
    room_id: Option<Uuid>,
    members: BTreeMap<Uuid, MemberRole>,
    last_seq: u64,
}

/// Why a chat command was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChatError {
    /// The room does not exist.
    #[error("room not found")]
    RoomNotFound,
    /// The room exists already.
    #[error("room already exists")]
    RoomExists,
    /// Only members may send; outsiders are told the room does not exist.
    #[error("room not found")]
    NotAMember,
    /// A direct room needs exactly one other person.
    #[error("a direct room has exactly two members")]
    DirectRoomSize,
    /// Too many members.
    #[error("a room has at most {} members", ChatRoom::MAX_MEMBERS)]
    TooManyMembers,
}

impl Rejection for ChatError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::RoomNotFound | Self::NotAMember => ErrorKind::NotFound,
            Self::RoomExists => ErrorKind::Conflict,
            Self::DirectRoomSize | Self::TooManyMembers => ErrorKind::Invalid,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::RoomNotFound | Self::NotAMember => "room_not_found",
            Self::RoomExists => "room_exists",
            Self::DirectRoomSize => "direct_room_size",
            Self::TooManyMembers => "too_many_members",
        }
    }
}

impl ChatRoom {
    /// Largest group room.
    pub const MAX_MEMBERS: usize = 5000;

    /// Whether someone is in the room.
    pub fn is_member(&self, user_id: Uuid) -> bool {
        self.members.contains_key(&user_id)
    }

    /// A member's role, if they are in the room.
    pub fn role_of(&self, user_id: Uuid) -> Option<MemberRole> {
        self.members.get(&user_id).copied()
    }

    /// The seq of the last message, 0 when there is none.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Whether the room has been created.
    pub fn exists(&self) -> bool {
        self.room_id.is_some()
    }
}

impl Aggregate for ChatRoom {
    const TYPE: &'static str = "chat_room";
    const SNAPSHOT_EVERY: Option<u64> = Some(100);
    type Command = ChatCommand;
    type Event = ChatEvent;
    type Error = ChatError;

    fn handle(
        &self,
        command: ChatCommand,
        services: &dyn Services,
    ) -> Result<Vec<ChatEvent>, ChatError> {
        match command {
            ChatCommand::CreateRoom {
                room_id,
                name,
                kind,
                creator_id,
                member_ids,
            } => {
                if self.exists() {
                    return Err(ChatError::RoomExists);
                }
                let mut members = vec![RoomMember {
                    user_id: creator_id,
                    role: MemberRole::Owner,
                }];
                for user_id in member_ids {
                    if members.iter().all(|m| m.user_id != user_id) {
                        members.push(RoomMember {
                            user_id,
                            role: MemberRole::Member,
                        });
                    }
                }
                if kind == RoomKind::Direct && members.len() != 2 {
                    return Err(ChatError::DirectRoomSize);
                }
                if members.len() > Self::MAX_MEMBERS {
                    return Err(ChatError::TooManyMembers);
                }
                Ok(vec![ChatEvent::RoomCreated(RoomCreated {
                    room_id,
                    name: name.as_str().to_owned(),
                    kind,
                    created_by: creator_id,
                    members,
                    created_at: services.now(),
                })])
            }
            ChatCommand::SendMessage {
                sender_id,
                client_msg_id,
                body,
            } => {
                let room_id = self.room_id.ok_or(ChatError::RoomNotFound)?;
                if !self.is_member(sender_id) {
                    return Err(ChatError::NotAMember);
                }
                Ok(vec![ChatEvent::MessageSent(MessageSent {
                    message_id: message_id_for(room_id, sender_id, client_msg_id),
                    room_id,
                    seq: self.last_seq + 1,
                    sender_id,
                    client_msg_id,
                    body: body.as_str().to_owned(),
                    sent_at: services.now(),
                })])
            }
        }
    }

    fn apply(&mut self, event: ChatEvent) {
        match event {
            ChatEvent::RoomCreated(e) => {
                self.room_id = Some(e.room_id);
                self.members = e.members.into_iter().map(|m| (m.user_id, m.role)).collect();
            }
            ChatEvent::MessageSent(e) => self.last_seq = e.seq,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{given, FixedServices};
    use crate::values::{MessageBody, RoomName};

    const ROOM: Uuid = Uuid::from_u128(100);
    const KIM: Uuid = Uuid::from_u128(201);
    const LEE: Uuid = Uuid::from_u128(202);
    const PARK: Uuid = Uuid::from_u128(203);

    fn created(kind: RoomKind, members: Vec<Uuid>) -> ChatEvent {
        ChatEvent::RoomCreated(RoomCreated {
            room_id: ROOM,
            name: "us".into(),
            kind,
            created_by: members[0],
            members: members
                .iter()
                .enumerate()
                .map(|(i, &user_id)| RoomMember {
                    user_id,
                    role: if i == 0 {
                        MemberRole::Owner
                    } else {
                        MemberRole::Member
                    },
                })
                .collect(),
            created_at: FixedServices::new().now,
        })
    }

    fn create(kind: RoomKind, members: Vec<Uuid>) -> ChatCommand {
        ChatCommand::CreateRoom {
            room_id: ROOM,
            name: RoomName::parse("us").unwrap(),
            kind,
            creator_id: KIM,
            member_ids: members,
        }
    }

    fn send(sender: Uuid, client: u128, body: &str) -> ChatCommand {
        ChatCommand::SendMessage {
            sender_id: sender,
            client_msg_id: Uuid::from_u128(client),
            body: MessageBody::parse(body).unwrap(),
        }
    }

    fn sent(seq: u64, sender: Uuid, client: u128, body: &str) -> ChatEvent {
        ChatEvent::MessageSent(MessageSent {
            message_id: message_id_for(ROOM, sender, Uuid::from_u128(client)),
            room_id: ROOM,
            seq,
            sender_id: sender,
            client_msg_id: Uuid::from_u128(client),
            body: body.into(),
            sent_at: FixedServices::new().now,
        })
    }

    #[test]
    fn the_creator_is_a_member_and_duplicates_collapse() {
        given::<ChatRoom>([])
            .when(create(RoomKind::Group, vec![LEE, KIM, LEE, PARK]))
            .then_expect_events(vec![created(RoomKind::Group, vec![KIM, LEE, PARK])]);
    }

    #[test]
    fn the_creator_owns_the_room_and_the_others_are_members() {
        let room = given::<ChatRoom>([])
            .when(create(RoomKind::Group, vec![LEE]))
            .then_expect_events(vec![created(RoomKind::Group, vec![KIM, LEE])]);
        assert_eq!(room.role_of(KIM), Some(MemberRole::Owner));
        assert_eq!(room.role_of(LEE), Some(MemberRole::Member));
        assert_eq!(room.role_of(PARK), None);
    }

    #[test]
    fn a_direct_room_has_two_people() {
        given::<ChatRoom>([])
            .when(create(RoomKind::Direct, vec![]))
            .then_expect_error("direct_room_size");
        given::<ChatRoom>([])
            .when(create(RoomKind::Direct, vec![LEE, PARK]))
            .then_expect_error("direct_room_size");
        given::<ChatRoom>([])
            .when(create(RoomKind::Direct, vec![LEE]))
            .then_expect_events(vec![created(RoomKind::Direct, vec![KIM, LEE])]);
    }

    #[test]
    fn a_room_is_created_once() {
        given::<ChatRoom>([created(RoomKind::Group, vec![KIM])])
            .when(create(RoomKind::Group, vec![]))
            .then_expect_error("room_exists");
    }

    #[test]
    fn messages_are_numbered_without_gaps() {
        let room = given::<ChatRoom>([created(RoomKind::Direct, vec![KIM, LEE])])
            .when(send(KIM, 1, "hi"))
            .then_expect_events(vec![sent(1, KIM, 1, "hi")]);
        assert_eq!(room.last_seq(), 1);
        given::<ChatRoom>([
            created(RoomKind::Direct, vec![KIM, LEE]),
            sent(1, KIM, 1, "hi"),
        ])
        .when(send(LEE, 7, "hello"))
        .then_expect_events(vec![sent(2, LEE, 7, "hello")]);
    }

    #[test]
    fn only_members_may_send() {
        given::<ChatRoom>([created(RoomKind::Direct, vec![KIM, LEE])])
            .when(send(PARK, 1, "let me in"))
            .then_expect_error("room_not_found");
        given::<ChatRoom>([])
            .when(send(KIM, 1, "anyone?"))
            .then_expect_error("room_not_found");
    }

    #[test]
    fn a_retried_send_maps_to_the_same_message_id() {
        let a = message_id_for(ROOM, KIM, Uuid::from_u128(1));
        assert_eq!(a, message_id_for(ROOM, KIM, Uuid::from_u128(1)));
        assert_ne!(a, message_id_for(ROOM, LEE, Uuid::from_u128(1)));
        assert_ne!(
            a,
            message_id_for(Uuid::from_u128(101), KIM, Uuid::from_u128(1))
        );
    }
}
