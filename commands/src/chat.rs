//! Chat commands: open and run rooms, send (idempotent by `client_msg_id`), edit and delete
//! messages, move read pointers; and the write-side access check that queries rely on.

use domain::chat::{
    direct_room_id, message_id_for, Access, ChatCommand, ChatError, ChatEvent, ChatRoom,
    MemberRole, MessageContent, MessageEdited, MessageRef, MessageSent, RoomKind,
};
use domain::media::{Media, MediaCommand, MediaUse};
use domain::values::{MessageBody, RoomName};
use domain::Aggregate;
use domain::{ErrorKind, Position};
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
        self.check_new_members(creator_id, &member_ids).await?;
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
            // The pair's room exists: answer it, taking back in a creator who had left it.
            Err(CommandError::Rejected {
                code: "room_exists",
                ..
            }) if direct.is_some() => {
                let rejoined = self
                    .execute::<ChatRoom>(
                        &room_id.to_string(),
                        ChatCommand::Join {
                            user_id: creator_id,
                        },
                    )
                    .await?;
                Ok(Opened {
                    room_id,
                    position: rejoined.position,
                    created: false,
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Sends a message. A retry with the same `client_msg_id` returns the original message and
    /// stores nothing: the message id is derived from it and event ids are unique in the store,
    /// so the retry's append fails on that index and the original is read back.
    #[tracing::instrument(skip(self, content))]
    pub async fn send_message(
        &self,
        room_id: Uuid,
        sender_id: Uuid,
        client_msg_id: Uuid,
        content: MessageContent,
    ) -> Result<Sent, CommandError> {
        let message_id = message_id_for(room_id, sender_id, client_msg_id);
        let command = ChatCommand::SendMessage {
            sender_id,
            client_msg_id,
            content,
        };
        let sent = if let ChatCommand::SendMessage {
            content: MessageContent::Image { media_id, .. },
            ..
        } = &command
        {
            let media_id = *media_id;
            self.send_image(room_id, sender_id, media_id, command).await
        } else {
            self.execute::<ChatRoom>(&room_id.to_string(), command)
                .await
                .map(|done| (done.events, done.position))
        };
        match sent {
            Ok((events, position)) => match events.into_iter().next() {
                Some(ChatEvent::MessageSent(message)) => Ok(Sent { message, position }),
                _ => Err(CommandError::Invariant(format!(
                    "sending {message_id} recorded no message"
                ))),
            },
            // A concurrent retry of the same send won the race: answer with its message.
            Err(CommandError::Duplicate) => self.stored_message(message_id).await,
            Err(e) => Err(e),
        }
    }

    /// A photo message and its use of the upload, in one transaction: the message never shows
    /// a photo that could expire as unused, and a photo is never kept for a message that failed.
    async fn send_image(
        &self,
        room_id: Uuid,
        sender_id: Uuid,
        media_id: Uuid,
        command: ChatCommand,
    ) -> Result<(Vec<ChatEvent>, Position), CommandError> {
        let keys = vec![
            (ChatRoom::TYPE, room_id.to_string()),
            (Media::TYPE, media_id.to_string()),
        ];
        let _held = self.locks.lock(keys.clone()).await;
        let done = crate::store::retry_conflicts("image message", || async {
            let services = self.services.as_ref();
            let room = self.store.load::<ChatRoom>(&room_id.to_string()).await?;
            let sent = room.decide(command.clone(), services)?;
            let seq = match sent.events.first() {
                Some(ChatEvent::MessageSent(m)) => m.seq,
                _ => return Ok((Vec::new(), Position::default())),
            };
            let media = self.store.load::<Media>(&media_id.to_string()).await?;
            let to = MediaUse::Message { room_id, seq };
            let used = media.decide(MediaCommand::Attach { by: sender_id, to }, services)?;
            let position = self
                .store
                .append_all(vec![sent.rows(&self.meta)?, used.rows(&self.meta)?])
                .await?;
            Ok((sent.events, position))
        })
        .await;
        for key in keys {
            self.cache.remove(&key);
        }
        done
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
            _ => Err(CommandError::Invariant(format!(
                "event {message_id} is not a message"
            ))),
        }
    }

    /// Which part of a room's history `user_id` may read, decided by the room itself (never by
    /// a view that may lag behind): what a query checks before it reads a room's messages.
    pub async fn room_access(
        &self,
        room_id: Uuid,
        user_id: Uuid,
    ) -> Result<Option<Access>, CommandError> {
        let room = self.store.load::<ChatRoom>(&room_id.to_string()).await?;
        Ok(room.aggregate.access(user_id))
    }

    /// Joins a public room (a member already in it changes nothing).
    #[tracing::instrument(skip(self))]
    pub async fn join_room(&self, room_id: Uuid, user_id: Uuid) -> Result<Position, CommandError> {
        // Re-opening a direct room is opening it again: not with someone who blocks you.
        let room = self.store.load::<ChatRoom>(&room_id.to_string()).await?;
        if let Some(peer) = room.aggregate.direct_peer(user_id) {
            self.refuse_if_blocked(user_id, &[peer]).await?;
        }
        self.on_room(room_id, ChatCommand::Join { user_id }).await
    }

    /// An owner or admin adds registered users who do not block them.
    #[tracing::instrument(skip(self))]
    pub async fn add_members(
        &self,
        room_id: Uuid,
        by: Uuid,
        mut user_ids: Vec<Uuid>,
    ) -> Result<Position, CommandError> {
        user_ids.sort_unstable();
        user_ids.dedup();
        if user_ids.len() > ChatRoom::MAX_MEMBERS {
            return Err(CommandError::rejected(ChatError::TooManyMembers));
        }
        let room = self.store.load::<ChatRoom>(&room_id.to_string()).await?;
        room.aggregate.may_add(by).map_err(CommandError::rejected)?;
        self.check_new_members(by, &user_ids).await?;
        self.on_room(room_id, ChatCommand::AddMembers { by, user_ids })
            .await
    }

    /// Leaves (`by` is `user_id`) or kicks.
    #[tracing::instrument(skip(self))]
    pub async fn remove_member(
        &self,
        room_id: Uuid,
        by: Uuid,
        user_id: Uuid,
    ) -> Result<Position, CommandError> {
        self.on_room(room_id, ChatCommand::RemoveMember { by, user_id })
            .await
    }

    /// Renames a room.
    #[tracing::instrument(skip(self))]
    pub async fn rename_room(
        &self,
        room_id: Uuid,
        by: Uuid,
        name: RoomName,
    ) -> Result<Position, CommandError> {
        self.on_room(room_id, ChatCommand::Rename { by, name })
            .await
    }

    /// Gives a member a role.
    #[tracing::instrument(skip(self))]
    pub async fn set_member_role(
        &self,
        room_id: Uuid,
        by: Uuid,
        user_id: Uuid,
        role: MemberRole,
    ) -> Result<Position, CommandError> {
        self.on_room(room_id, ChatCommand::SetRole { by, user_id, role })
            .await
    }

    /// Changes a message's text; answers the edit as recorded.
    #[tracing::instrument(skip(self, body))]
    pub async fn edit_message(
        &self,
        room_id: Uuid,
        by: Uuid,
        seq: u64,
        body: MessageBody,
    ) -> Result<(MessageEdited, Position), CommandError> {
        let message = self.message_ref(room_id, by, seq).await?;
        let done = self
            .execute::<ChatRoom>(
                &room_id.to_string(),
                ChatCommand::EditMessage { by, message, body },
            )
            .await?;
        match done.events.into_iter().next() {
            Some(ChatEvent::MessageEdited(edit)) => Ok((edit, done.position)),
            _ => Err(CommandError::Invariant(format!(
                "editing message {seq} of room {room_id} recorded no edit"
            ))),
        }
    }

    /// Deletes a message, leaving a tombstone (deleting it again changes nothing).
    #[tracing::instrument(skip(self))]
    pub async fn delete_message(
        &self,
        room_id: Uuid,
        by: Uuid,
        seq: u64,
    ) -> Result<Position, CommandError> {
        let message = self.message_ref(room_id, by, seq).await?;
        self.on_room(room_id, ChatCommand::DeleteMessage { by, message })
            .await
    }

    /// Moves the caller's read pointer forward to `seq`; answers where it stands afterwards.
    #[tracing::instrument(skip(self))]
    pub async fn mark_read(
        &self,
        room_id: Uuid,
        user_id: Uuid,
        seq: u64,
    ) -> Result<(u64, Position), CommandError> {
        let done = self
            .execute::<ChatRoom>(&room_id.to_string(), ChatCommand::MarkRead { user_id, seq })
            .await?;
        Ok((
            done.state.last_read_of(user_id).unwrap_or_default(),
            done.position,
        ))
    }

    async fn on_room(&self, room_id: Uuid, command: ChatCommand) -> Result<Position, CommandError> {
        Ok(self
            .execute::<ChatRoom>(&room_id.to_string(), command)
            .await?
            .position)
    }

    /// The unchanging facts of message `seq`, from the store. An outsider learns nothing: the
    /// room answers them as it answers any command of theirs.
    async fn message_ref(
        &self,
        room_id: Uuid,
        by: Uuid,
        seq: u64,
    ) -> Result<MessageRef, CommandError> {
        let found = match i64::try_from(seq) {
            Ok(seq) => self.store.find_message(room_id, seq).await?,
            Err(_) => None,
        };
        let Some(found) = found else {
            let room = self.store.load::<ChatRoom>(&room_id.to_string()).await?;
            return Err(CommandError::rejected(match room.aggregate.access(by) {
                Some(Access::Member { .. }) => ChatError::MessageNotFound,
                Some(Access::Former { .. }) => ChatError::LeftRoom,
                None => ChatError::RoomNotFound,
            }));
        };
        match found.decode::<ChatEvent>()? {
            ChatEvent::MessageSent(m) => Ok(MessageRef {
                seq: m.seq,
                sender_id: m.sender_id,
                sent_at: m.sent_at,
            }),
            _ => Err(CommandError::Invariant(format!(
                "message {seq} of room {room_id} is not a MessageSent"
            ))),
        }
    }

    /// New members must be registered and must not block the one adding them.
    async fn check_new_members(&self, by: Uuid, user_ids: &[Uuid]) -> Result<(), CommandError> {
        let existing = self.store.existing_users(user_ids).await?;
        if let Some(unknown) = user_ids.iter().find(|id| !existing.contains(id)) {
            return Err(CommandError::Rejected {
                kind: ErrorKind::Invalid,
                code: "unknown_member",
                message: format!("no user {unknown}"),
            });
        }
        self.refuse_if_blocked(by, user_ids).await
    }
}
