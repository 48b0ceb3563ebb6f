//! Every real-time frame a client can receive, as one typed enum, and the shapes inside them.
//!
//! On the wire a frame is `{"type": "<kind>", "id": "<push id>", "data": {…}}`. The notifier
//! builds frames from events, the API's WebSocket sends them (and `ready`), and the tests read
//! them back through the same types, so a field cannot drift between them. The HTTP answer to a
//! command and the frame about the same fact share their shape ([`ChatMessage`] is both the
//! `201` of a send and the data of `message.sent`, and each entry of history).

mod chat;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use chat::{
    seq_of, ChatMessage, DeletedMessage, EditedMessage, MessageKind, ReadPointer, RoleChange,
    SystemNote,
};

/// A server-to-client frame's type and data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum Frame {
    /// The first frame on a socket: this process is subscribed, nothing after it is missed.
    #[serde(rename = "ready")]
    Ready(Ready),
    /// A message in one of the user's rooms.
    #[serde(rename = "message.sent")]
    MessageSent(ChatMessage),
    /// A message's text changed.
    #[serde(rename = "message.edited")]
    MessageEdited(EditedMessage),
    /// A message was deleted (it is a tombstone now).
    #[serde(rename = "message.deleted")]
    MessageDeleted(DeletedMessage),
    /// People joined a room: its system message.
    #[serde(rename = "room.member_joined")]
    MemberJoined(ChatMessage),
    /// Someone left or was removed: its system message (the one who left gets it too).
    #[serde(rename = "room.member_left")]
    MemberLeft(ChatMessage),
    /// The room was renamed: its system message.
    #[serde(rename = "room.updated")]
    RoomUpdated(ChatMessage),
    /// A member's role changed.
    #[serde(rename = "room.role_changed")]
    RoleChanged(RoleChange),
    /// Another member read up to a message.
    #[serde(rename = "room.read")]
    RoomRead(ReadPointer),
    /// The user is now half of a couple.
    #[serde(rename = "couple.matched")]
    CoupleMatched(CoupleMatched),
    /// The user got a place in a game.
    #[serde(rename = "game.joined")]
    GameJoined(GamePlace),
    /// The user is on a game's waitlist.
    #[serde(rename = "game.waitlisted")]
    GameWaitlisted(GamePlace),
    /// The user moved from the waitlist to a place.
    #[serde(rename = "game.promoted")]
    GamePromoted(GamePlace),
    /// The socket's access token expired without a fresh one (`auth`); the socket closes.
    #[serde(rename = "session.expired")]
    SessionExpired(SessionExpired),
    /// The answer to a client frame that worked, with the client frame's id.
    #[serde(rename = "ack")]
    Ack(Ack),
    /// The answer to a client frame that did not, with the client frame's id.
    #[serde(rename = "error")]
    Error(Problem),
    /// The answer to `ping`.
    #[serde(rename = "pong")]
    Pong,
}

impl Frame {
    /// The frame's `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Ready(_) => "ready",
            Self::MessageSent(_) => "message.sent",
            Self::MessageEdited(_) => "message.edited",
            Self::MessageDeleted(_) => "message.deleted",
            Self::MemberJoined(_) => "room.member_joined",
            Self::MemberLeft(_) => "room.member_left",
            Self::RoomUpdated(_) => "room.updated",
            Self::RoleChanged(_) => "room.role_changed",
            Self::RoomRead(_) => "room.read",
            Self::CoupleMatched(_) => "couple.matched",
            Self::GameJoined(_) => "game.joined",
            Self::GameWaitlisted(_) => "game.waitlisted",
            Self::GamePromoted(_) => "game.promoted",
            Self::SessionExpired(_) => "session.expired",
            Self::Ack(_) => "ack",
            Self::Error(_) => "error",
            Self::Pong => "pong",
        }
    }
}

/// A frame as sent: its type and data, and an id — a push's id, which lets a client (and each
/// API process) drop a frame it has already seen, or the id of the client frame answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutFrame {
    /// The push id or the answered client frame's id (absent on `ready`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Type and data.
    #[serde(flatten)]
    pub frame: Frame,
}

/// Data of `ready`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ready {
    /// Whose socket this is.
    pub user_id: Uuid,
}

/// Data of `couple.matched`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoupleMatched {
    /// The feed entry.
    pub notification_id: Uuid,
    /// The couple.
    pub couple_id: Uuid,
    /// The other half.
    pub partner_id: Uuid,
    /// When they matched.
    pub since: DateTime<Utc>,
}

/// Data of `game.joined`, `game.waitlisted` and `game.promoted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GamePlace {
    /// The feed entry.
    pub notification_id: Uuid,
    /// The game.
    pub game_id: Uuid,
    /// Place on the waitlist (1-based), for `game.waitlisted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u32>,
}

/// Data of `session.expired`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionExpired {
    /// When the socket's token expired.
    pub expired_at: DateTime<Utc>,
}

/// Data of `ack`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// After an `auth`: when the socket's new token expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// An RFC 9457 problem: the body of every HTTP error and the data of an `error` frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// `https://moim.dev/problems/<code with dashes>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The status's reason phrase.
    pub title: String,
    /// The HTTP status (the one it would have over HTTP, for a frame).
    pub status: u16,
    /// What went wrong, for people.
    pub detail: String,
    /// What went wrong, for programs: stable.
    pub code: String,
    /// The request it happened in (absent on a socket's frames).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl Problem {
    /// A problem with a stable code.
    pub fn new(status: u16, title: &str, code: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("https://moim.dev/problems/{}", code.replace('_', "-")),
            title: title.to_owned(),
            status,
            detail: detail.into(),
            code: code.to_owned(),
            request_id: None,
        }
    }
}

/// A client-to-server frame: `{"type", "id", "data"}`, answered with `ack` or `error` carrying
/// the same `id`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct InFrame {
    /// The client's id for it, echoed in the answer.
    #[serde(default)]
    pub id: Option<String>,
    /// Type and data.
    #[serde(flatten)]
    pub frame: ClientFrame,
}

/// What a client may send on the socket.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum ClientFrame {
    /// A fresh access token for this socket, before the current one expires.
    #[serde(rename = "auth")]
    Auth(Auth),
    /// Are you there? Answered with `pong`.
    #[serde(rename = "ping")]
    Ping,
}

/// Data of `auth`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Auth {
    /// The new access token.
    pub access_token: String,
}

/// A frame for one user, to send after the transaction that produced it commits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Push {
    /// Stable id, derived from the event and the user: lets receivers drop a re-sent push.
    pub id: Uuid,
    /// Who gets it.
    pub user_id: Uuid,
    /// What they get.
    pub frame: Frame,
    /// The request the event came from, carried on as a header so it can be followed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
}

impl Push {
    /// The frame as it goes on the wire.
    pub fn to_wire(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(&OutFrame {
            id: Some(self.id.to_string()),
            frame: self.frame.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn system(note: SystemNote) -> ChatMessage {
        let id = Uuid::from_u128(1);
        ChatMessage::system(id, id, 2, id, note, DateTime::<Utc>::default())
    }

    fn every_frame() -> Vec<Frame> {
        let id = Uuid::from_u128(1);
        let place = GamePlace {
            notification_id: id,
            game_id: id,
            position: Some(2),
        };
        vec![
            Frame::Ready(Ready { user_id: id }),
            Frame::MessageSent(ChatMessage::from(domain::chat::MessageSent {
                message_id: id,
                room_id: id,
                seq: 1,
                sender_id: id,
                client_msg_id: id,
                body: "hi".into(),
                sent_at: DateTime::<Utc>::default(),
                recipients: 1,
            })),
            Frame::MessageEdited(EditedMessage {
                room_id: id,
                seq: 1,
                body: "hi!".into(),
                edited_at: DateTime::<Utc>::default(),
            }),
            Frame::MessageDeleted(DeletedMessage {
                room_id: id,
                seq: 1,
            }),
            Frame::MemberJoined(system(SystemNote::MembersJoined { user_ids: vec![id] })),
            Frame::MemberLeft(system(SystemNote::MemberKicked {
                user_id: id,
                new_owner: None,
            })),
            Frame::RoomUpdated(system(SystemNote::RoomRenamed { name: "us".into() })),
            Frame::RoleChanged(RoleChange {
                room_id: id,
                user_id: id,
                role: domain::chat::MemberRole::Admin,
            }),
            Frame::RoomRead(ReadPointer {
                room_id: id,
                user_id: id,
                seq: 1,
            }),
            Frame::CoupleMatched(CoupleMatched {
                notification_id: id,
                couple_id: id,
                partner_id: id,
                since: DateTime::<Utc>::default(),
            }),
            Frame::GameJoined(place.clone()),
            Frame::GameWaitlisted(place.clone()),
            Frame::GamePromoted(place),
            Frame::SessionExpired(SessionExpired {
                expired_at: DateTime::<Utc>::default(),
            }),
            Frame::Ack(Ack { expires_at: None }),
            Frame::Error(Problem::new(400, "Bad Request", "bad_frame", "what?")),
        ]
    }

    #[test]
    fn frames_are_type_id_and_data_and_read_back_the_same() {
        for frame in every_frame() {
            let out = OutFrame {
                id: Some("7".into()),
                frame: frame.clone(),
            };
            let json = serde_json::to_value(&out).unwrap_or_default();
            assert_eq!(json["type"], frame.kind(), "kind() names the wire type");
            assert_eq!(json["id"], "7");
            assert!(json["data"].is_object());
            assert_eq!(serde_json::from_value::<OutFrame>(json).ok(), Some(out));
        }
        let pong = serde_json::to_value(OutFrame {
            id: None,
            frame: Frame::Pong,
        })
        .ok();
        assert_eq!(pong, Some(serde_json::json!({ "type": "pong" })));
    }

    #[test]
    fn client_frames_read_with_or_without_data() {
        let auth: Result<InFrame, _> =
            serde_json::from_str(r#"{"type": "auth", "id": "a1", "data": {"access_token": "t"}}"#);
        assert_eq!(
            auth.ok(),
            Some(InFrame {
                id: Some("a1".into()),
                frame: ClientFrame::Auth(Auth {
                    access_token: "t".into()
                }),
            })
        );
        let ping: Result<InFrame, _> = serde_json::from_str(r#"{"type": "ping", "id": "p"}"#);
        assert_eq!(ping.ok().map(|f| f.frame), Some(ClientFrame::Ping));
        for bad in [
            r#"{"type": "nope"}"#,
            r#"{"type": "auth"}"#,
            "[]",
            "not json",
        ] {
            assert!(serde_json::from_str::<InFrame>(bad).is_err(), "{bad}");
        }
    }
}
