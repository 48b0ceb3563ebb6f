//! The chat room aggregate: membership and roles, the message counter, tombstones and read
//! pointers. It decides every rule of a room; messages themselves live only in events and read
//! models, so the state (and its snapshot) stays small however long the history grows.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Duration;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use crate::aggregate::Aggregate;
use crate::chat::{
    message_id_for, ChatCommand, ChatEvent, MemberLeft, MemberRoleChanged, MembersJoined,
    MessageContent, MessageDeleted, MessageEdited, MessageRef, MessageSent, MessagesRead,
    RoomArchived, RoomCreated, RoomMember, RoomRenamed,
};
use crate::error::{ErrorKind, Rejection};
use crate::services::Services;

/// What kind of room, which decides who may join it and whether it can be managed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoomKind {
    /// Two people, one room per pair; it never grows and has no one to run it.
    Direct,
    /// People added by its owner and admins.
    Group,
    /// Like a group, and anyone may join.
    Public,
    /// A couple's own room, opened when they match: the two partners, never more, read-only
    /// once they unmatch. Only Moim opens one.
    Couple,
    /// A club's room: its members are the club's, put in and taken out by Moim as the club's
    /// membership changes; nobody adds, kicks or leaves it directly.
    Club,
}

impl RoomKind {
    /// The name clients see.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Group => "group",
            Self::Public => "public",
            Self::Couple => "couple",
            Self::Club => "club",
        }
    }

    /// Rooms of exactly two people, which nobody runs, grows or kicks from.
    pub fn is_pair(self) -> bool {
        matches!(self, Self::Direct | Self::Couple)
    }
}

/// What a member may do in a room.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum MemberRole {
    /// Runs the room: renames it, adds, kicks, gives roles. Exactly one per group room.
    Owner,
    /// Helps the owner: renames, adds, kicks members.
    Admin,
    /// Takes part.
    Member,
}

impl MemberRole {
    /// The name clients see.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }

    fn runs_the_room(self) -> bool {
        matches!(self, Self::Owner | Self::Admin)
    }
}

/// One member's standing in the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Member {
    role: MemberRole,
    /// The seq of their join message (0 for the room's first members): they read from there.
    joined_seq: u64,
    /// Join order, for handing the room over to its longest member.
    order: u64,
    /// Every message up to this seq is read.
    last_read: u64,
}

/// Which part of the history someone may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A member reads from their join on.
    Member {
        /// The first seq they may read.
        from: u64,
    },
    /// A former member reads what was sent while they were in, up to their leave, and no more.
    Former {
        /// The first seq they may read.
        from: u64,
        /// The last (their leave).
        to: u64,
    },
}

impl Access {
    /// The seqs they may read, as `(from, to)`.
    pub fn window(self) -> (u64, Option<u64>) {
        match self {
            Self::Member { from } => (from, None),
            Self::Former { from, to } => (from, Some(to)),
        }
    }
}

/// State kept per room.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChatRoom {
    room_id: Option<Uuid>,
    kind: Option<RoomKind>,
    name: String,
    members: BTreeMap<Uuid, Member>,
    /// People who left, with the part of the history they may still read.
    former: BTreeMap<Uuid, (u64, u64)>,
    last_seq: u64,
    joins: u64,
    deleted: BTreeSet<u64>,
    #[serde(default)]
    archived: bool,
}

/// Why a chat command was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChatError {
    /// The room does not exist, or the caller may not know it does.
    #[error("room not found")]
    RoomNotFound,
    /// The room exists already.
    #[error("room already exists")]
    RoomExists,
    /// Only members may act in a room; outsiders are told the room does not exist.
    #[error("room not found")]
    NotAMember,
    /// The caller left the room (or was removed): they may read up to then, no more.
    #[error("you are no longer a member of this room")]
    LeftRoom,
    /// The room was archived (a dissolved couple's): it is read, not written.
    #[error("this room is read-only")]
    ReadOnly,
    /// A direct room needs exactly one other person.
    #[error("a direct room has exactly two members")]
    DirectRoomSize,
    /// Too many members.
    #[error("a room has at most {} members", ChatRoom::MAX_MEMBERS)]
    TooManyMembers,
    /// Direct rooms are not renamed, grown, run or kicked from.
    #[error("a direct room cannot be changed")]
    DirectRoom,
    /// The caller's role does not allow it.
    #[error("only the room's {0} may do this")]
    NotAllowed(&'static str),
    /// The person acted on is not in the room.
    #[error("no such member")]
    MemberNotFound,
    /// No message with that seq was sent here.
    #[error("message not found")]
    MessageNotFound,
    /// The message is deleted.
    #[error("the message is deleted")]
    MessageDeleted,
    /// Only the author may edit, and the author or a group's owner or admin delete.
    #[error("this is not your message")]
    NotYourMessage,
    /// Messages can be edited for 24 hours.
    #[error("messages can be edited for {} hours", ChatRoom::EDIT_WINDOW_HOURS)]
    EditWindowClosed,
    /// A read pointer beyond the room's last message.
    #[error("the room has no message {0}")]
    BadSeq(u64),
    /// The owner's own role changes only by handing the room over.
    #[error("the owner hands the room over by making someone else owner")]
    BadRoleChange,
    /// A club's room follows the club: join, leave or manage the club instead.
    #[error("a club's room follows the club's membership")]
    ClubRoom,
}

impl Rejection for ChatError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::RoomNotFound
            | Self::NotAMember
            | Self::MemberNotFound
            | Self::MessageNotFound => ErrorKind::NotFound,
            Self::RoomExists | Self::MessageDeleted | Self::ReadOnly | Self::ClubRoom => {
                ErrorKind::Conflict
            }
            Self::LeftRoom
            | Self::NotAllowed(_)
            | Self::NotYourMessage
            | Self::EditWindowClosed => ErrorKind::Forbidden,
            Self::DirectRoomSize
            | Self::TooManyMembers
            | Self::DirectRoom
            | Self::BadSeq(_)
            | Self::BadRoleChange => ErrorKind::Invalid,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::RoomNotFound | Self::NotAMember => "room_not_found",
            Self::RoomExists => "room_exists",
            Self::ReadOnly => "room_read_only",
            Self::LeftRoom => "left_room",
            Self::DirectRoomSize => "direct_room_size",
            Self::TooManyMembers => "too_many_members",
            Self::DirectRoom => "direct_room",
            Self::NotAllowed(_) => "not_allowed",
            Self::MemberNotFound => "member_not_found",
            Self::MessageNotFound => "message_not_found",
            Self::MessageDeleted => "message_deleted",
            Self::NotYourMessage => "not_your_message",
            Self::EditWindowClosed => "edit_window_closed",
            Self::BadSeq(_) => "bad_seq",
            Self::BadRoleChange => "bad_role_change",
            Self::ClubRoom => "club_room",
        }
    }
}

impl ChatRoom {
    /// Largest room.
    pub const MAX_MEMBERS: usize = 5000;
    /// How long after sending its author may edit a message.
    pub const EDIT_WINDOW_HOURS: i64 = 24;

    /// Whether someone is in the room now.
    pub fn is_member(&self, user_id: Uuid) -> bool {
        self.members.contains_key(&user_id)
    }

    /// A member's role, if they are in the room.
    pub fn role_of(&self, user_id: Uuid) -> Option<MemberRole> {
        self.members.get(&user_id).map(|m| m.role)
    }

    /// How far a member has read.
    pub fn last_read_of(&self, user_id: Uuid) -> Option<u64> {
        self.members.get(&user_id).map(|m| m.last_read)
    }

    /// Which part of the history `user_id` may read, `None` for someone never in the room.
    pub fn access(&self, user_id: Uuid) -> Option<Access> {
        if let Some(member) = self.members.get(&user_id) {
            return Some(Access::Member {
                from: member.joined_seq,
            });
        }
        self.former
            .get(&user_id)
            .map(|&(from, to)| Access::Former { from, to })
    }

    /// The seq of the last message, 0 when there is none.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Whether the room has been created.
    pub fn exists(&self) -> bool {
        self.room_id.is_some()
    }

    /// The room's kind, once it exists.
    pub fn kind(&self) -> Option<RoomKind> {
        self.kind
    }

    /// Why `by` may not add people to the room, if they may not: checked before the people are
    /// looked up, so an outsider learns nothing of them and costs nothing.
    pub fn may_add(&self, by: Uuid) -> Result<(), ChatError> {
        self.runner(by).map(|_| ())
    }

    /// In a direct room, the other person of `user_id` (in it now or not); `None` elsewhere or
    /// for someone who was never in it.
    pub fn direct_peer(&self, user_id: Uuid) -> Option<Uuid> {
        if self.kind != Some(RoomKind::Direct) || self.access(user_id).is_none() {
            return None;
        }
        self.members
            .keys()
            .chain(self.former.keys())
            .copied()
            .find(|&id| id != user_id)
    }

    /// The room and its kind, or why a member action cannot happen: outsiders are told the room
    /// does not exist, former members that they left.
    fn member(&self, user_id: Uuid) -> Result<(Uuid, RoomKind, Member), ChatError> {
        let (Some(room_id), Some(kind)) = (self.room_id, self.kind) else {
            return Err(ChatError::RoomNotFound);
        };
        match self.members.get(&user_id) {
            Some(&member) => Ok((room_id, kind, member)),
            None if self.former.contains_key(&user_id) => Err(ChatError::LeftRoom),
            None => Err(ChatError::NotAMember),
        }
    }

    /// The room and the acting member, when they may run it (owner or admin of a non-direct room).
    fn runner(&self, by: Uuid) -> Result<(Uuid, Member), ChatError> {
        let (room_id, kind, member) = self.member(by)?;
        if kind.is_pair() {
            return Err(ChatError::DirectRoom);
        }
        if kind == RoomKind::Club {
            return Err(ChatError::ClubRoom);
        }
        if !member.role.runs_the_room() {
            return Err(ChatError::NotAllowed("owner or admins"));
        }
        Ok((room_id, member))
    }

    /// Refuses every change but reading and leaving once the room is archived.
    fn writable(&self) -> Result<(), ChatError> {
        if self.archived {
            return Err(ChatError::ReadOnly);
        }
        Ok(())
    }

    fn next_seq(&self) -> u64 {
        self.last_seq + 1
    }

    fn recipients(&self) -> u32 {
        u32::try_from(self.members.len().saturating_sub(1)).unwrap_or(u32::MAX)
    }

    /// The message a command names, if it was sent here and is not deleted.
    fn live_message(&self, message: MessageRef) -> Result<(), ChatError> {
        if message.seq == 0 || message.seq > self.last_seq {
            return Err(ChatError::MessageNotFound);
        }
        if self.deleted.contains(&message.seq) {
            return Err(ChatError::MessageDeleted);
        }
        Ok(())
    }

    fn join(&self, user_id: Uuid, services: &dyn Services) -> Result<Vec<ChatEvent>, ChatError> {
        let (Some(room_id), Some(kind)) = (self.room_id, self.kind) else {
            return Err(ChatError::RoomNotFound);
        };
        if self.is_member(user_id) {
            return Ok(Vec::new());
        }
        let may_join = match kind {
            RoomKind::Public => true,
            RoomKind::Direct | RoomKind::Couple => self.former.contains_key(&user_id),
            RoomKind::Group | RoomKind::Club => false,
        };
        if !may_join {
            return Err(ChatError::RoomNotFound);
        }
        if self.members.len() >= Self::MAX_MEMBERS {
            return Err(ChatError::TooManyMembers);
        }
        Ok(vec![ChatEvent::MembersJoined(MembersJoined {
            room_id,
            seq: self.next_seq(),
            user_ids: vec![user_id],
            by: user_id,
            joined_at: services.now(),
        })])
    }

    /// Puts a club member in the club's room (Moim does, as the club changes).
    fn enrol(&self, user_id: Uuid, services: &dyn Services) -> Result<Vec<ChatEvent>, ChatError> {
        let room_id = self.club_room()?;
        if self.is_member(user_id) {
            return Ok(Vec::new());
        }
        if self.members.len() >= Self::MAX_MEMBERS {
            return Err(ChatError::TooManyMembers);
        }
        Ok(vec![ChatEvent::MembersJoined(MembersJoined {
            room_id,
            seq: self.next_seq(),
            user_ids: vec![user_id],
            by: user_id,
            joined_at: services.now(),
        })])
    }

    /// Takes someone who left the club out of its room.
    fn unenrol(
        &self,
        by: Uuid,
        user_id: Uuid,
        services: &dyn Services,
    ) -> Result<Vec<ChatEvent>, ChatError> {
        let room_id = self.club_room()?;
        if !self.is_member(user_id) {
            return Ok(Vec::new());
        }
        Ok(vec![ChatEvent::MemberLeft(MemberLeft {
            room_id,
            seq: self.next_seq(),
            user_id,
            by,
            new_owner: None,
            left_at: services.now(),
        })])
    }

    /// The room's id, when it is a club's.
    fn club_room(&self) -> Result<Uuid, ChatError> {
        match (self.room_id, self.kind) {
            (Some(room_id), Some(RoomKind::Club)) => Ok(room_id),
            _ => Err(ChatError::RoomNotFound),
        }
    }

    fn remove(
        &self,
        by: Uuid,
        user_id: Uuid,
        services: &dyn Services,
    ) -> Result<Vec<ChatEvent>, ChatError> {
        let (room_id, kind, actor) = self.member(by)?;
        let leaving = self
            .members
            .get(&user_id)
            .ok_or(ChatError::MemberNotFound)?;
        if kind == RoomKind::Club {
            return Err(ChatError::ClubRoom);
        }
        if by != user_id {
            if kind.is_pair() {
                return Err(ChatError::DirectRoom);
            }
            let may_kick = match actor.role {
                MemberRole::Owner => true,
                MemberRole::Admin => leaving.role == MemberRole::Member,
                MemberRole::Member => false,
            };
            if !may_kick {
                return Err(ChatError::NotAllowed("owner or admins"));
            }
        }
        // The owner leaving hands the room to whoever has been in it longest.
        let new_owner = (leaving.role == MemberRole::Owner && !kind.is_pair())
            .then(|| {
                self.members
                    .iter()
                    .filter(|(&id, _)| id != user_id)
                    .min_by_key(|(_, m)| m.order)
                    .map(|(&id, _)| id)
            })
            .flatten();
        Ok(vec![ChatEvent::MemberLeft(MemberLeft {
            room_id,
            seq: self.next_seq(),
            user_id,
            by,
            new_owner,
            left_at: services.now(),
        })])
    }

    fn set_role(
        &self,
        by: Uuid,
        user_id: Uuid,
        role: MemberRole,
        services: &dyn Services,
    ) -> Result<Vec<ChatEvent>, ChatError> {
        let (room_id, actor) = self.runner(by)?;
        if actor.role != MemberRole::Owner {
            return Err(ChatError::NotAllowed("owner"));
        }
        let target = self
            .members
            .get(&user_id)
            .ok_or(ChatError::MemberNotFound)?;
        if by == user_id {
            return Err(ChatError::BadRoleChange);
        }
        if target.role == role {
            return Ok(Vec::new());
        }
        let change = |user_id, role| {
            ChatEvent::MemberRoleChanged(MemberRoleChanged {
                room_id,
                user_id,
                role,
                by,
                changed_at: services.now(),
            })
        };
        let mut events = vec![change(user_id, role)];
        if role == MemberRole::Owner {
            events.push(change(by, MemberRole::Admin));
        }
        Ok(events)
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
        let reads_or_leaves = matches!(
            command,
            ChatCommand::MarkRead { .. } | ChatCommand::Archive { .. }
        ) || matches!(command, ChatCommand::RemoveMember { by, user_id } if by == user_id);
        // Members learn it is read-only; outsiders still learn nothing.
        if !reads_or_leaves && self.access(command.asker()).is_some() {
            self.writable()?;
        }
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
                if kind.is_pair() && members.len() != 2 {
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
                content,
            } => {
                let (room_id, _, _) = self.member(sender_id)?;
                let (body, media_id) = match content {
                    MessageContent::Text(body) => (body.as_str().to_owned(), None),
                    MessageContent::Image { media_id, caption } => (
                        caption.map(|c| c.as_str().to_owned()).unwrap_or_default(),
                        Some(media_id),
                    ),
                };
                Ok(vec![ChatEvent::MessageSent(MessageSent {
                    message_id: message_id_for(room_id, sender_id, client_msg_id),
                    room_id,
                    seq: self.next_seq(),
                    sender_id,
                    client_msg_id,
                    body,
                    sent_at: services.now(),
                    recipients: self.recipients(),
                    media_id,
                })])
            }
            ChatCommand::Join { user_id } => self.join(user_id, services),
            ChatCommand::AddMembers { by, user_ids } => {
                let (room_id, _) = self.runner(by)?;
                let mut new: Vec<Uuid> = Vec::new();
                for id in user_ids {
                    if !self.is_member(id) && !new.contains(&id) {
                        new.push(id);
                    }
                }
                if new.is_empty() {
                    return Ok(Vec::new());
                }
                if self.members.len() + new.len() > Self::MAX_MEMBERS {
                    return Err(ChatError::TooManyMembers);
                }
                Ok(vec![ChatEvent::MembersJoined(MembersJoined {
                    room_id,
                    seq: self.next_seq(),
                    user_ids: new,
                    by,
                    joined_at: services.now(),
                })])
            }
            ChatCommand::RemoveMember { by, user_id } => self.remove(by, user_id, services),
            ChatCommand::Enrol { user_id } => self.enrol(user_id, services),
            ChatCommand::Unenrol { by, user_id } => self.unenrol(by, user_id, services),
            ChatCommand::Rename { by, name } => {
                let (room_id, _) = self.runner(by)?;
                if name.as_str() == self.name {
                    return Ok(Vec::new());
                }
                Ok(vec![ChatEvent::RoomRenamed(RoomRenamed {
                    room_id,
                    seq: self.next_seq(),
                    name: name.as_str().to_owned(),
                    by,
                    renamed_at: services.now(),
                })])
            }
            ChatCommand::SetRole { by, user_id, role } => {
                self.set_role(by, user_id, role, services)
            }
            ChatCommand::EditMessage { by, message, body } => {
                let (room_id, _, _) = self.member(by)?;
                self.live_message(message)?;
                if message.sender_id != by {
                    return Err(ChatError::NotYourMessage);
                }
                let now = services.now();
                if now - message.sent_at > Duration::hours(Self::EDIT_WINDOW_HOURS) {
                    return Err(ChatError::EditWindowClosed);
                }
                Ok(vec![ChatEvent::MessageEdited(MessageEdited {
                    room_id,
                    seq: message.seq,
                    body: body.as_str().to_owned(),
                    edited_at: now,
                })])
            }
            ChatCommand::DeleteMessage { by, message } => {
                let (room_id, kind, actor) = self.member(by)?;
                match self.live_message(message) {
                    Err(ChatError::MessageDeleted) => return Ok(Vec::new()),
                    other => other?,
                }
                let moderates = !kind.is_pair() && actor.role.runs_the_room();
                if message.sender_id != by && !moderates {
                    return Err(ChatError::NotYourMessage);
                }
                Ok(vec![ChatEvent::MessageDeleted(MessageDeleted {
                    room_id,
                    seq: message.seq,
                    by,
                    deleted_at: services.now(),
                })])
            }
            ChatCommand::Archive { by } => {
                let (room_id, _, _) = self.member(by)?;
                if self.archived {
                    return Ok(Vec::new());
                }
                Ok(vec![ChatEvent::RoomArchived(RoomArchived {
                    room_id,
                    by,
                    archived_at: services.now(),
                })])
            }
            ChatCommand::MarkRead { user_id, seq } => {
                let (room_id, _, member) = self.member(user_id)?;
                if seq > self.last_seq {
                    return Err(ChatError::BadSeq(seq));
                }
                if seq <= member.last_read {
                    return Ok(Vec::new());
                }
                Ok(vec![ChatEvent::MessagesRead(MessagesRead {
                    room_id,
                    user_id,
                    seq,
                    read_at: services.now(),
                })])
            }
        }
    }

    fn apply(&mut self, event: ChatEvent) {
        if let Some(seq) = event.seq() {
            self.last_seq = seq;
        }
        match event {
            ChatEvent::RoomCreated(e) => {
                self.room_id = Some(e.room_id);
                self.kind = Some(e.kind);
                self.name = e.name;
                for m in e.members {
                    self.admit(m.user_id, m.role, 0);
                }
            }
            ChatEvent::MessageSent(e) => {
                if let Some(sender) = self.members.get_mut(&e.sender_id) {
                    sender.last_read = e.seq;
                }
            }
            ChatEvent::MembersJoined(e) => {
                for user_id in e.user_ids {
                    self.former.remove(&user_id);
                    self.admit(user_id, MemberRole::Member, e.seq);
                }
            }
            ChatEvent::MemberLeft(e) => {
                if let Some(member) = self.members.remove(&e.user_id) {
                    self.former.insert(e.user_id, (member.joined_seq, e.seq));
                }
                if let Some(owner) = e.new_owner.and_then(|id| self.members.get_mut(&id)) {
                    owner.role = MemberRole::Owner;
                }
            }
            ChatEvent::RoomRenamed(e) => self.name = e.name,
            ChatEvent::MemberRoleChanged(e) => {
                if let Some(member) = self.members.get_mut(&e.user_id) {
                    member.role = e.role;
                }
            }
            ChatEvent::MessageEdited(_) => {}
            ChatEvent::RoomArchived(_) => self.archived = true,
            ChatEvent::MessageDeleted(e) => {
                self.deleted.insert(e.seq);
            }
            ChatEvent::MessagesRead(e) => {
                if let Some(member) = self.members.get_mut(&e.user_id) {
                    member.last_read = member.last_read.max(e.seq);
                }
            }
        }
    }
}

impl ChatRoom {
    fn admit(&mut self, user_id: Uuid, role: MemberRole, joined_seq: u64) {
        self.joins += 1;
        self.members.insert(
            user_id,
            Member {
                role,
                joined_seq,
                order: self.joins,
                last_read: joined_seq,
            },
        );
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
            content: MessageContent::Text(MessageBody::parse(body).unwrap()),
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
            recipients: 1,
            media_id: None,
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

    fn group(members: &[Uuid]) -> ChatEvent {
        created(RoomKind::Group, members.to_vec())
    }

    fn joined(seq: u64, user_ids: &[Uuid], by: Uuid) -> ChatEvent {
        ChatEvent::MembersJoined(MembersJoined {
            room_id: ROOM,
            seq,
            user_ids: user_ids.to_vec(),
            by,
            joined_at: FixedServices::new().now,
        })
    }

    fn left(seq: u64, user_id: Uuid, by: Uuid, new_owner: Option<Uuid>) -> ChatEvent {
        ChatEvent::MemberLeft(MemberLeft {
            room_id: ROOM,
            seq,
            user_id,
            by,
            new_owner,
            left_at: FixedServices::new().now,
        })
    }

    fn message(seq: u64, sender_id: Uuid) -> MessageRef {
        MessageRef {
            seq,
            sender_id,
            sent_at: FixedServices::new().now,
        }
    }

    const CHOI: Uuid = Uuid::from_u128(204);

    #[test]
    fn the_owner_leaving_hands_the_room_to_the_longest_member() {
        let room = given::<ChatRoom>([group(&[KIM, LEE, PARK]), joined(1, &[CHOI], KIM)])
            .when(ChatCommand::RemoveMember {
                by: KIM,
                user_id: KIM,
            })
            .then_expect_events(vec![left(2, KIM, KIM, Some(LEE))]);
        assert_eq!(room.role_of(LEE), Some(MemberRole::Owner));
        assert_eq!(room.role_of(KIM), None);
        assert_eq!(room.access(KIM), Some(Access::Former { from: 0, to: 2 }));
    }

    #[test]
    fn owners_and_admins_kick_and_members_cannot() {
        let admin = ChatEvent::MemberRoleChanged(MemberRoleChanged {
            room_id: ROOM,
            user_id: LEE,
            role: MemberRole::Admin,
            by: KIM,
            changed_at: FixedServices::new().now,
        });
        given::<ChatRoom>([group(&[KIM, LEE, PARK])])
            .when(ChatCommand::RemoveMember {
                by: PARK,
                user_id: LEE,
            })
            .then_expect_error("not_allowed");
        given::<ChatRoom>([group(&[KIM, LEE, PARK]), admin.clone()])
            .when(ChatCommand::RemoveMember {
                by: LEE,
                user_id: KIM,
            })
            .then_expect_error("not_allowed");
        given::<ChatRoom>([group(&[KIM, LEE, PARK]), admin])
            .when(ChatCommand::RemoveMember {
                by: LEE,
                user_id: PARK,
            })
            .then_expect_events(vec![left(1, PARK, LEE, None)]);
        given::<ChatRoom>([group(&[KIM, LEE])])
            .when(ChatCommand::RemoveMember {
                by: KIM,
                user_id: PARK,
            })
            .then_expect_error("member_not_found");
    }

    #[test]
    fn a_kicked_member_can_neither_send_nor_read_on_and_reads_only_up_to_the_kick() {
        let history = [
            group(&[KIM, LEE, PARK]),
            sent(1, KIM, 1, "hi"),
            left(2, PARK, KIM, None),
        ];
        given::<ChatRoom>(history.clone())
            .when(send(PARK, 2, "wait"))
            .then_expect_error("left_room");
        given::<ChatRoom>(history.clone())
            .when(ChatCommand::MarkRead {
                user_id: PARK,
                seq: 1,
            })
            .then_expect_error("left_room");
        let room = given::<ChatRoom>(history)
            .when(send(KIM, 3, "gone"))
            .then_expect_events(vec![sent(3, KIM, 3, "gone")]);
        assert_eq!(room.access(PARK), Some(Access::Former { from: 0, to: 2 }));
        assert_eq!(room.access(CHOI), None);
    }

    #[test]
    fn joiners_read_from_their_join_and_only_public_rooms_let_anyone_in() {
        let room = given::<ChatRoom>([
            created(RoomKind::Public, vec![KIM]),
            sent(1, KIM, 1, "before you"),
        ])
        .when(ChatCommand::Join { user_id: LEE })
        .then_expect_events(vec![joined(2, &[LEE], LEE)]);
        assert_eq!(room.access(LEE), Some(Access::Member { from: 2 }));
        assert_eq!(room.last_read_of(LEE), Some(2));
        given::<ChatRoom>([group(&[KIM])])
            .when(ChatCommand::Join { user_id: LEE })
            .then_expect_error("room_not_found");
        given::<ChatRoom>([created(RoomKind::Public, vec![KIM, LEE])])
            .when(ChatCommand::Join { user_id: LEE })
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_former_member_reopens_their_direct_room_and_it_never_grows() {
        let history = [
            created(RoomKind::Direct, vec![KIM, LEE]),
            left(1, LEE, LEE, None),
        ];
        given::<ChatRoom>(history.clone())
            .when(ChatCommand::Join { user_id: LEE })
            .then_expect_events(vec![joined(2, &[LEE], LEE)]);
        given::<ChatRoom>(history)
            .when(ChatCommand::Join { user_id: PARK })
            .then_expect_error("room_not_found");
        given::<ChatRoom>([created(RoomKind::Direct, vec![KIM, LEE])])
            .when(ChatCommand::AddMembers {
                by: KIM,
                user_ids: vec![PARK],
            })
            .then_expect_error("direct_room");
        given::<ChatRoom>([created(RoomKind::Direct, vec![KIM, LEE])])
            .when(ChatCommand::RemoveMember {
                by: KIM,
                user_id: LEE,
            })
            .then_expect_error("direct_room");
    }

    #[test]
    fn admins_add_people_once_and_members_cannot() {
        given::<ChatRoom>([group(&[KIM, LEE])])
            .when(ChatCommand::AddMembers {
                by: KIM,
                user_ids: vec![PARK, LEE, PARK, CHOI],
            })
            .then_expect_events(vec![joined(1, &[PARK, CHOI], KIM)]);
        given::<ChatRoom>([group(&[KIM, LEE])])
            .when(ChatCommand::AddMembers {
                by: LEE,
                user_ids: vec![PARK],
            })
            .then_expect_error("not_allowed");
        given::<ChatRoom>([group(&[KIM, LEE])])
            .when(ChatCommand::AddMembers {
                by: KIM,
                user_ids: vec![LEE],
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn renaming_is_a_system_message_for_owners_and_admins() {
        given::<ChatRoom>([group(&[KIM, LEE]), sent(1, LEE, 1, "hi")])
            .when(ChatCommand::Rename {
                by: KIM,
                name: RoomName::parse("club").unwrap(),
            })
            .then_expect_events(vec![ChatEvent::RoomRenamed(RoomRenamed {
                room_id: ROOM,
                seq: 2,
                name: "club".into(),
                by: KIM,
                renamed_at: FixedServices::new().now,
            })]);
        given::<ChatRoom>([group(&[KIM, LEE])])
            .when(ChatCommand::Rename {
                by: LEE,
                name: RoomName::parse("mine").unwrap(),
            })
            .then_expect_error("not_allowed");
        given::<ChatRoom>([group(&[KIM, LEE])])
            .when(ChatCommand::Rename {
                by: KIM,
                name: RoomName::parse("us").unwrap(),
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn only_the_owner_gives_roles_and_giving_ownership_hands_the_room_over() {
        let change = |user_id, role| {
            ChatEvent::MemberRoleChanged(MemberRoleChanged {
                room_id: ROOM,
                user_id,
                role,
                by: KIM,
                changed_at: FixedServices::new().now,
            })
        };
        let room = given::<ChatRoom>([group(&[KIM, LEE])])
            .when(ChatCommand::SetRole {
                by: KIM,
                user_id: LEE,
                role: MemberRole::Owner,
            })
            .then_expect_events(vec![
                change(LEE, MemberRole::Owner),
                change(KIM, MemberRole::Admin),
            ]);
        assert_eq!(room.role_of(LEE), Some(MemberRole::Owner));
        given::<ChatRoom>([group(&[KIM, LEE])])
            .when(ChatCommand::SetRole {
                by: LEE,
                user_id: LEE,
                role: MemberRole::Admin,
            })
            .then_expect_error("not_allowed");
        given::<ChatRoom>([group(&[KIM, LEE])])
            .when(ChatCommand::SetRole {
                by: KIM,
                user_id: KIM,
                role: MemberRole::Member,
            })
            .then_expect_error("bad_role_change");
    }

    #[test]
    fn authors_edit_within_a_day() {
        let history = [group(&[KIM, LEE]), sent(1, KIM, 1, "helo")];
        given::<ChatRoom>(history.clone())
            .when(ChatCommand::EditMessage {
                by: KIM,
                message: message(1, KIM),
                body: MessageBody::parse("hello").unwrap(),
            })
            .then_expect_events(vec![ChatEvent::MessageEdited(MessageEdited {
                room_id: ROOM,
                seq: 1,
                body: "hello".into(),
                edited_at: FixedServices::new().now,
            })]);
        given::<ChatRoom>(history.clone())
            .when(ChatCommand::EditMessage {
                by: LEE,
                message: message(1, KIM),
                body: MessageBody::parse("mine now").unwrap(),
            })
            .then_expect_error("not_your_message");
        given::<ChatRoom>(history)
            .at(FixedServices::new().now + Duration::hours(24) + Duration::seconds(1))
            .when(ChatCommand::EditMessage {
                by: KIM,
                message: message(1, KIM),
                body: MessageBody::parse("too late").unwrap(),
            })
            .then_expect_error("edit_window_closed");
    }

    #[test]
    fn a_deleted_message_is_a_tombstone_that_cannot_be_edited() {
        let deleted = ChatEvent::MessageDeleted(MessageDeleted {
            room_id: ROOM,
            seq: 1,
            by: KIM,
            deleted_at: FixedServices::new().now,
        });
        given::<ChatRoom>([group(&[KIM, LEE]), sent(1, LEE, 1, "oops")])
            .when(ChatCommand::DeleteMessage {
                by: KIM,
                message: message(1, LEE),
            })
            .then_expect_events(vec![deleted.clone()]);
        given::<ChatRoom>([group(&[KIM, LEE]), sent(1, KIM, 1, "x")])
            .when(ChatCommand::DeleteMessage {
                by: LEE,
                message: message(1, KIM),
            })
            .then_expect_error("not_your_message");
        let history = [group(&[KIM, LEE]), sent(1, LEE, 1, "oops"), deleted];
        given::<ChatRoom>(history.clone())
            .when(ChatCommand::EditMessage {
                by: LEE,
                message: message(1, LEE),
                body: MessageBody::parse("fixed").unwrap(),
            })
            .then_expect_error("message_deleted");
        given::<ChatRoom>(history)
            .when(ChatCommand::DeleteMessage {
                by: LEE,
                message: message(1, LEE),
            })
            .then_expect_events(vec![]);
        given::<ChatRoom>([
            created(RoomKind::Direct, vec![KIM, LEE]),
            sent(1, LEE, 1, "x"),
        ])
        .when(ChatCommand::DeleteMessage {
            by: KIM,
            message: message(1, LEE),
        })
        .then_expect_error("not_your_message");
    }

    #[test]
    fn read_pointers_only_move_forward_and_sending_moves_your_own() {
        let read = |seq| {
            ChatEvent::MessagesRead(MessagesRead {
                room_id: ROOM,
                user_id: LEE,
                seq,
                read_at: FixedServices::new().now,
            })
        };
        let history = [
            group(&[KIM, LEE]),
            sent(1, KIM, 1, "a"),
            sent(2, KIM, 2, "b"),
            read(2),
        ];
        given::<ChatRoom>(history.clone())
            .when(ChatCommand::MarkRead {
                user_id: LEE,
                seq: 1,
            })
            .then_expect_events(vec![]);
        given::<ChatRoom>(history.clone())
            .when(ChatCommand::MarkRead {
                user_id: LEE,
                seq: 3,
            })
            .then_expect_error("bad_seq");
        let room = given::<ChatRoom>(history)
            .when(send(LEE, 9, "c"))
            .then_expect_events(vec![sent(3, LEE, 9, "c")]);
        assert_eq!(room.last_read_of(LEE), Some(3));
        assert_eq!(room.last_read_of(KIM), Some(2));
    }

    #[test]
    fn a_couple_room_holds_two_and_once_archived_is_read_and_left_but_not_written() {
        given::<ChatRoom>([])
            .when(create(RoomKind::Couple, vec![LEE, PARK]))
            .then_expect_error("direct_room_size");
        let archived = ChatEvent::RoomArchived(RoomArchived {
            room_id: ROOM,
            by: KIM,
            archived_at: FixedServices::new().now,
        });
        let couple = || created(RoomKind::Couple, vec![KIM, LEE]);
        given::<ChatRoom>([couple()])
            .when(ChatCommand::AddMembers {
                by: KIM,
                user_ids: vec![PARK],
            })
            .then_expect_error("direct_room");
        given::<ChatRoom>([couple()])
            .when(ChatCommand::Archive { by: KIM })
            .then_expect_events(vec![archived.clone()]);
        given::<ChatRoom>([couple(), sent(1, LEE, 1, "hi"), archived.clone()])
            .when(send(KIM, 2, "still there?"))
            .then_expect_error("room_read_only");
        given::<ChatRoom>([couple(), sent(1, LEE, 1, "hi"), archived.clone()])
            .when(ChatCommand::MarkRead {
                user_id: KIM,
                seq: 1,
            })
            .then_expect_events(vec![ChatEvent::MessagesRead(MessagesRead {
                room_id: ROOM,
                user_id: KIM,
                seq: 1,
                read_at: FixedServices::new().now,
            })]);
        // A stranger still learns nothing.
        given::<ChatRoom>([couple(), archived])
            .when(send(PARK, 3, "hello"))
            .then_expect_error("room_not_found");
    }
}
