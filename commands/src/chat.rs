//! Chat commands: create a room, send a message (idempotent by `client_msg_id`).

use chrono::{DateTime, Utc};
use domain::chat::{message_id_for, ChatCommand, ChatEvent, ChatRoom, MessageSent, RoomKind};
use domain::values::{MessageBody, RoomName};
use domain::{ErrorKind, Position};
use uuid::Uuid;

use crate::{CommandError, Commands};

/// A message as stored, returned for a first send and for every retry of it alike.
#[derive(Debug, Clone, PartialEq)]
pub struct SentMessage {
    /// The message.
    pub message_id: Uuid,
    /// The room.
    pub room_id: Uuid,
    /// Its number in the room.
    pub seq: u64,
    /// Who sent it.
    pub sender_id: Uuid,
    /// The text.
    pub body: String,
    /// When.
    pub sent_at: DateTime<Utc>,
    /// Where the event stands in the global order.
    pub position: Position,
}

impl SentMessage {
    fn new(m: MessageSent, position: Position) -> Self {
        Self {
            message_id: m.message_id,
            room_id: m.room_id,
            seq: m.seq,
            sender_id: m.sender_id,
            body: m.body,
            sent_at: m.sent_at,
            position,
        }
    }
}

impl Commands {
    /// Opens a room with the creator and `member_ids`, all of whom must be registered users.
    #[tracing::instrument(skip(self))]
    pub async fn create_room(
        &self,
        creator_id: Uuid,
        name: RoomName,
        kind: RoomKind,
        member_ids: Vec<Uuid>,
    ) -> Result<(Uuid, Position), CommandError> {
        let existing = self.store.existing_users(&member_ids).await?;
        if let Some(unknown) = member_ids.iter().find(|id| !existing.contains(id)) {
            return Err(CommandError::Rejected {
                kind: ErrorKind::Invalid,
                code: "unknown_member",
                message: format!("no user {unknown}"),
            });
        }
        let room_id = self.services.new_id();
        let command = ChatCommand::CreateRoom {
            room_id,
            name,
            kind,
            creator_id,
            member_ids,
        };
        let done = self
            .execute::<ChatRoom>(&room_id.to_string(), command)
            .await?;
        Ok((room_id, done.position))
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
    ) -> Result<SentMessage, CommandError> {
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
                Some(ChatEvent::MessageSent(m)) => Ok(SentMessage {
                    message_id: m.message_id,
                    room_id: m.room_id,
                    seq: m.seq,
                    sender_id: m.sender_id,
                    body: m.body,
                    sent_at: m.sent_at,
                    position: done.position,
                }),
                _ => Err(CommandError::Store(
                    "SendMessage recorded no message".into(),
                )),
            },
            // A concurrent retry of the same send won the race: answer with its message.
            Err(CommandError::Duplicate) => self
                .stored_message(message_id)
                .await?
                .ok_or_else(|| CommandError::Store(format!("message {message_id} vanished"))),
            Err(e) => Err(e),
        }
    }

    async fn stored_message(&self, message_id: Uuid) -> Result<Option<SentMessage>, CommandError> {
        let Some(found) = self.store.find_event(message_id).await? else {
            return Ok(None);
        };
        match serde_json::from_value(found.payload) {
            Ok(ChatEvent::MessageSent(m)) => Ok(Some(SentMessage::new(m, found.position))),
            Ok(_) => Err(CommandError::Store(format!(
                "event {message_id} is not a message"
            ))),
            Err(e) => Err(CommandError::Store(e.to_string())),
        }
    }
}
