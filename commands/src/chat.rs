//! Chat commands: create a room, send a message (idempotent by `client_msg_id`), and the
//! write-side membership check queries rely on.

use domain::chat::{
    direct_room_id, message_id_for, ChatCommand, ChatError, ChatEvent, ChatRoom, MessageSent,
    RoomKind,
};
use domain::values::{MessageBody, RoomName};
use domain::{Aggregate, ErrorKind, Position};
use uuid::Uuid;

use crate::{CommandError, Commands};

/// A room as opened: new, or the pair's existing direct room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    /// The room.
    pub room_id: Uuid,
    /// Where its creation (or its latest event, for an existing room) stands in the global order.
    pub position: Position,
    /// Whether this call created it.
    pub created: bool,
}

/// A message as stored, answered for a first send and for every retry of it alike.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    /// The message, as its event recorded it.
    pub message: MessageSent,
    /// Where the event stands in the global order.
    pub position: Position,
}

impl Commands {
    /// Opens a room with the creator and `member_ids`, all of whom must be registered users. Two
    /// people have one direct room: opening it again (or both at once) answers the existing one.
    #[tracing::instrument(skip(self))]
    pub async fn create_room(
        &self,
        creator_id: Uuid,
        name: RoomName,
        kind: RoomKind,
        mut member_ids: Vec<Uuid>,
    ) -> Result<Opened, CommandError> {
        // Bounded before any lookup: a list of one id repeated a million times costs nothing.
        member_ids.sort_unstable();
        member_ids.dedup();
        if member_ids.len() > ChatRoom::MAX_MEMBERS {
            return Err(CommandError::rejected(ChatError::TooManyMembers));
        }
        let existing = self.store.existing_users(&member_ids).await?;
        if let Some(unknown) = member_ids.iter().find(|id| !existing.contains(id)) {
            return Err(CommandError::Rejected {
                kind: ErrorKind::Invalid,
                code: "unknown_member",
                message: format!("no user {unknown}"),
            });
        }
        self.refuse_if_blocked(creator_id, &member_ids).await?;
        let others: Vec<Uuid> = member_ids
            .iter()
            .copied()
            .filter(|&m| m != creator_id)
            .collect();
        let direct = match (kind, others.as_slice()) {
            (RoomKind::Direct, &[other]) => Some(direct_room_id(creator_id, other)),
            _ => None,
        };
        let room_id = direct.unwrap_or_else(|| self.services.new_id());
        let command = ChatCommand::CreateRoom {
            room_id,
            name,
            kind,
            creator_id,
            member_ids,
        };
        match self
            .execute::<ChatRoom>(&room_id.to_string(), command)
            .await
        {
            Ok(done) => Ok(Opened {
                room_id,
                position: done.position,
                created: true,
            }),
            Err(CommandError::Rejected {
                code: "room_exists",
                ..
            }) if direct.is_some() => {
                let (_, position) = self
                    .store
                    .latest(ChatRoom::TYPE, &room_id.to_string())
                    .await?;
                Ok(Opened {
                    room_id,
                    position,
                    created: false,
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Sends a message. A retry with the same `client_msg_id` returns the original message and
    /// stores nothing: the message id is derived from it and event ids are unique in the store,
    /// so the retry's append fails on that index and the original is read back.
    #[tracing::instrument(skip(self, body))]
    pub async fn send_message(
        &self,
        room_id: Uuid,
        sender_id: Uuid,
        client_msg_id: Uuid,
        body: MessageBody,
    ) -> Result<Sent, CommandError> {
        let message_id = message_id_for(room_id, sender_id, client_msg_id);
        let command = ChatCommand::SendMessage {
            sender_id,
            client_msg_id,
            body,
        };
        match self
            .execute::<ChatRoom>(&room_id.to_string(), command)
            .await
        {
            Ok(done) => match done.events.into_iter().next() {
                Some(ChatEvent::MessageSent(message)) => Ok(Sent {
                    message,
                    position: done.position,
                }),
                _ => Err(CommandError::Invariant(format!(
                    "sending {message_id} recorded no message"
                ))),
            },
            // A concurrent retry of the same send won the race: answer with its message.
            Err(CommandError::Duplicate) => self.stored_message(message_id).await,
            Err(e) => Err(e),
        }
    }

    async fn stored_message(&self, message_id: Uuid) -> Result<Sent, CommandError> {
        let found = self
            .store
            .find_event(message_id)
            .await?
            .ok_or_else(|| CommandError::Invariant(format!("message {message_id} vanished")))?;
        let position = found.position;
        match found.decode::<ChatEvent>()? {
            ChatEvent::MessageSent(message) => Ok(Sent { message, position }),
            ChatEvent::RoomCreated(_) => Err(CommandError::Invariant(format!(
                "event {message_id} is not a message"
            ))),
        }
    }

    /// Whether `user_id` is in `room_id`, decided by the room itself (never by a view that may
    /// lag behind): what a query checks before it reads a room's messages.
    pub async fn is_room_member(&self, room_id: Uuid, user_id: Uuid) -> Result<bool, CommandError> {
        let room = self.store.load::<ChatRoom>(&room_id.to_string()).await?;
        Ok(room.aggregate.is_member(user_id))
    }
}
