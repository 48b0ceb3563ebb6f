//! Every real-time frame a client can receive, as one typed enum, and the shapes inside them.
//!
//! On the wire a frame is `{"type": "<kind>", "id": "<push id>", "data": {…}}`. The notifier
//! builds frames from events, the API's WebSocket sends them (and `ready`), and the tests read
//! them back through the same types, so a field cannot drift between them. The HTTP answer to a
//! command and the frame about the same fact share their shape ([`ChatMessage`] is both the
//! `201` of a send and the data of `message.sent`, and each entry of history).

use chrono::{DateTime, Utc};
use domain::chat::MessageSent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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
}

impl Frame {
    /// The frame's `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Ready(_) => "ready",
            Self::MessageSent(_) => "message.sent",
            Self::CoupleMatched(_) => "couple.matched",
            Self::GameJoined(_) => "game.joined",
            Self::GameWaitlisted(_) => "game.waitlisted",
            Self::GamePromoted(_) => "game.promoted",
        }
    }
}

/// A frame as sent: its type and data, and the push id that lets a client (and each API
/// process) drop a frame it has already seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutFrame {
    /// The push id (absent on `ready`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
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

/// A chat message: the `201` of a send, the data of `message.sent`, an entry of history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct ChatMessage {
    /// The message.
    pub message_id: Uuid,
    /// The room.
    pub room_id: Uuid,
    /// Its number in the room: 1, 2, 3, … with no gaps.
    pub seq: i64,
    /// Who sent it.
    pub sender_id: Uuid,
    /// The sender's own id for it (what a retry sends again).
    pub client_msg_id: Uuid,
    /// The text.
    pub body: String,
    /// When.
    pub sent_at: DateTime<Utc>,
}

impl From<MessageSent> for ChatMessage {
    fn from(m: MessageSent) -> Self {
        Self {
            message_id: m.message_id,
            room_id: m.room_id,
            seq: i64::try_from(m.seq).unwrap_or(i64::MAX),
            sender_id: m.sender_id,
            client_msg_id: m.client_msg_id,
            body: m.body,
            sent_at: m.sent_at,
        }
    }
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
            id: Some(self.id),
            frame: self.frame.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_frame() -> Vec<Frame> {
        let id = Uuid::from_u128(1);
        let place = GamePlace {
            notification_id: id,
            game_id: id,
            position: Some(2),
        };
        vec![
            Frame::Ready(Ready { user_id: id }),
            Frame::MessageSent(ChatMessage {
                message_id: id,
                room_id: id,
                seq: 1,
                sender_id: id,
                client_msg_id: id,
                body: "hi".into(),
                sent_at: DateTime::<Utc>::default(),
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
        ]
    }

    #[test]
    fn frames_are_type_id_and_data_and_read_back_the_same() {
        for frame in every_frame() {
            let out = OutFrame {
                id: Some(Uuid::from_u128(7)),
                frame: frame.clone(),
            };
            let json = serde_json::to_value(&out).unwrap_or_default();
            assert_eq!(json["type"], frame.kind(), "kind() names the wire type");
            assert_eq!(json["id"], Uuid::from_u128(7).to_string());
            assert!(json["data"].is_object());
            assert_eq!(serde_json::from_value::<OutFrame>(json).ok(), Some(out));
        }
    }
}
