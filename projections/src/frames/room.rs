//! What a chat room's events look like to its members live. The notifier builds a
//! [`RoomFrame`] from each event as it happens, and a socket's `resume` builds the same from the
//! stored events, so a replayed frame is the frame that went out live, with the same `rev`.

use domain::chat::{Access, ChatEvent, RoomKind};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    seq_of, ChatMessage, DeletedMessage, EditedMessage, Frame, ReadPointer, RoleChange,
    RoomArchivedNote,
};

/// Data of `room.created`: the user is in a room they did not know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RoomOpened {
    /// The room.
    pub room_id: Uuid,
    /// Direct, group or public.
    pub kind: RoomKind,
    /// Its name.
    pub name: String,
    /// Everyone in it.
    pub member_ids: Vec<Uuid>,
}

/// One room event as its members see it.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomFrame {
    /// The event it stands for (the frame's id).
    pub event_id: Uuid,
    /// The room.
    pub room_id: Uuid,
    /// The room's change number: the event's sequence in the room aggregate.
    pub rev: i64,
    /// What members get.
    pub frame: Frame,
    /// The member whose own act it reports, who does not get it (a read pointer).
    pub not_to: Option<Uuid>,
    /// A message's sender: members who block them do not get it.
    pub sender: Option<Uuid>,
    /// The member it removes; they get this frame, then nothing more of the room.
    pub leaver: Option<Uuid>,
    /// The users it puts in the room, who are not yet following it.
    pub entering: Vec<Uuid>,
    /// The message seq it stands at (its own, or the message it is about); `None` for changes
    /// that are about no message (a new role), which stand where the room is.
    pub seq: Option<u64>,
    /// Whether it has a seq of its own (a message, or a membership or name change).
    pub is_message: bool,
}

impl RoomFrame {
    /// The frame for a room's event as the stream carries it.
    pub fn of_envelope(event: &moim_nats::EventEnvelope) -> Result<Self, crate::ProjectionError> {
        Ok(Self::of(
            event.event_id,
            event.sequence,
            crate::decode::decode(event)?,
        ))
    }

    /// The frame for the `rev`th event of a room.
    pub fn of(event_id: Uuid, rev: i64, event: ChatEvent) -> Self {
        let system = ChatMessage::of_system_event(event_id, &event);
        let is_message = event.seq().is_some();
        let mut frame = Self {
            event_id,
            room_id: Uuid::nil(),
            rev,
            frame: Frame::Pong,
            not_to: None,
            sender: None,
            leaver: None,
            entering: Vec::new(),
            seq: event.seq(),
            is_message,
        };
        let (room_id, data) = match event {
            ChatEvent::RoomCreated(e) => {
                frame.entering = e.members.iter().map(|m| m.user_id).collect();
                let opened = RoomOpened {
                    room_id: e.room_id,
                    kind: e.kind,
                    name: e.name,
                    member_ids: frame.entering.clone(),
                };
                (e.room_id, Frame::RoomCreated(opened))
            }
            ChatEvent::MessageSent(e) => {
                frame.sender = Some(e.sender_id);
                (e.room_id, Frame::MessageSent(ChatMessage::from(e)))
            }
            ChatEvent::MembersJoined(e) => {
                frame.entering.clone_from(&e.user_ids);
                (e.room_id, system.map_or(Frame::Pong, Frame::MemberJoined))
            }
            ChatEvent::MemberLeft(e) => {
                frame.leaver = Some(e.user_id);
                (e.room_id, system.map_or(Frame::Pong, Frame::MemberLeft))
            }
            ChatEvent::RoomRenamed(e) => {
                (e.room_id, system.map_or(Frame::Pong, Frame::RoomUpdated))
            }
            ChatEvent::MemberRoleChanged(e) => (
                e.room_id,
                Frame::RoleChanged(RoleChange {
                    room_id: e.room_id,
                    user_id: e.user_id,
                    role: e.role,
                }),
            ),
            ChatEvent::MessageEdited(e) => {
                frame.seq = Some(e.seq);
                (e.room_id, Frame::MessageEdited(EditedMessage::from(e)))
            }
            ChatEvent::MessageDeleted(e) => {
                frame.seq = Some(e.seq);
                let deleted = DeletedMessage {
                    room_id: e.room_id,
                    seq: seq_of(e.seq),
                };
                (e.room_id, Frame::MessageDeleted(deleted))
            }
            ChatEvent::RoomArchived(e) => (
                e.room_id,
                Frame::RoomArchived(RoomArchivedNote { room_id: e.room_id }),
            ),
            ChatEvent::MessagesRead(e) => {
                frame.seq = Some(e.seq);
                frame.not_to = Some(e.user_id);
                let pointer = ReadPointer {
                    room_id: e.room_id,
                    user_id: e.user_id,
                    seq: seq_of(e.seq),
                };
                (e.room_id, Frame::RoomRead(pointer))
            }
        };
        frame.room_id = room_id;
        frame.frame = data;
        frame
    }

    /// Whether `user_id`, who may read `access` of the room, gets this frame when the room
    /// stands at message `current` (the last message seq before it).
    pub fn for_reader(&self, user_id: Uuid, access: Access, current: u64) -> bool {
        let at = self.seq.unwrap_or(current);
        let (from, to) = access.window();
        self.not_to != Some(user_id) && at >= from && to.is_none_or(|to| at <= to)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use domain::chat::{MemberLeft, MessageSent, MessagesRead};

    use super::*;

    fn sent(seq: u64) -> ChatEvent {
        ChatEvent::MessageSent(MessageSent {
            room_id: Uuid::nil(),
            message_id: Uuid::from_u128(u128::from(seq)),
            seq,
            sender_id: Uuid::from_u128(9),
            client_msg_id: Uuid::nil(),
            body: "hi".into(),
            sent_at: Utc::now(),
            recipients: 1,
            media_id: None,
        })
    }

    #[test]
    fn a_message_is_for_readers_whose_window_holds_it() {
        let reader = Uuid::from_u128(1);
        let frame = RoomFrame::of(Uuid::nil(), 7, sent(5));
        assert_eq!(frame.rev, 7);
        assert!(frame.for_reader(reader, Access::Member { from: 1 }, 4));
        assert!(!frame.for_reader(reader, Access::Member { from: 6 }, 4));
        assert!(!frame.for_reader(reader, Access::Former { from: 1, to: 4 }, 4));
    }

    #[test]
    fn a_leave_removes_the_leaver_and_a_read_skips_the_reader() {
        let leaver = Uuid::from_u128(1);
        let left = RoomFrame::of(
            Uuid::nil(),
            3,
            ChatEvent::MemberLeft(MemberLeft {
                room_id: Uuid::nil(),
                user_id: leaver,
                by: leaver,
                seq: 2,
                new_owner: None,
                left_at: Utc::now(),
            }),
        );
        assert_eq!(left.leaver, Some(leaver));
        assert!(left.for_reader(leaver, Access::Former { from: 1, to: 2 }, 1));
        let read = RoomFrame::of(
            Uuid::nil(),
            4,
            ChatEvent::MessagesRead(MessagesRead {
                room_id: Uuid::nil(),
                user_id: leaver,
                seq: 1,
                read_at: Utc::now(),
            }),
        );
        assert!(!read.for_reader(leaver, Access::Member { from: 1 }, 2));
        assert!(read.for_reader(Uuid::from_u128(2), Access::Member { from: 1 }, 2));
    }
}
