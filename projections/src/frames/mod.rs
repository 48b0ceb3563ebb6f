//! Every real-time frame a client can receive, as one typed enum, and the shapes inside them.
//!
//! On the wire a frame is `{"type": "<kind>", "id": "<push id>", "data": {…}}`. The notifier
//! builds frames from events, the API's WebSocket sends them (and `ready`), and the tests read
//! them back through the same types, so a field cannot drift between them. The HTTP answer to a
//! command and the frame about the same fact share their shape ([`ChatMessage`] is both the
//! `201` of a send and the data of `message.sent`, and each entry of history).

mod chat;
mod couple;
mod feed;
mod room;

use chrono::{DateTime, Utc};
use domain::Position;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use chat::{
    seq_of, ChatMessage, DeletedMessage, EditedMessage, MessageKind, ReadPointer, RoleChange,
    SystemNote,
};
pub use couple::{
    AnniversaryNews, AnniversaryUpcoming, CoupleEnded, CoupleSettings, Location, LocationIn,
    LocationStopped, PlanEntry, PlanNews, PlanReminder, PlanRemoved, RoomArchivedNote,
};
pub use feed::{FeedEntry, FeedRead};
pub use room::{RoomFrame, RoomOpened};

/// A server-to-client frame's type and data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", content = "data")]
pub enum Frame {
    /// The first frame on a socket: this process is subscribed, nothing after it is missed.
    #[serde(rename = "ready")]
    Ready(Ready),
    /// The user is in a new room (they opened it or were put in it).
    #[serde(rename = "room.created")]
    RoomCreated(RoomOpened),
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
    /// The partner moved day 1 or the time zone.
    #[serde(rename = "couple.updated")]
    CoupleUpdated(CoupleSettings),
    /// The couple unmatched; their room is read-only.
    #[serde(rename = "couple.dissolved")]
    CoupleDissolved(CoupleEnded),
    /// The partner added, changed or removed a date.
    #[serde(rename = "anniversary.changed")]
    AnniversaryChanged(AnniversaryNews),
    /// An anniversary is a week or a day away.
    #[serde(rename = "anniversary.upcoming")]
    AnniversaryUpcoming(AnniversaryUpcoming),
    /// The partner made a plan.
    #[serde(rename = "plan.created")]
    PlanCreated(PlanNews),
    /// The partner moved or changed a plan.
    #[serde(rename = "plan.updated")]
    PlanUpdated(PlanNews),
    /// The partner deleted a plan.
    #[serde(rename = "plan.deleted")]
    PlanDeleted(PlanRemoved),
    /// A plan starts in two hours.
    #[serde(rename = "plan.reminder")]
    PlanReminder(PlanReminder),
    /// The partner's live position (not kept).
    #[serde(rename = "location.updated")]
    LocationUpdated(Location),
    /// The partner stopped sharing their position (not kept).
    #[serde(rename = "location.stopped")]
    LocationStopped(LocationStopped),
    /// The room became read-only (a dissolved couple's room).
    #[serde(rename = "room.archived")]
    RoomArchived(RoomArchivedNote),
    /// The user got a place in a game.
    #[serde(rename = "game.joined")]
    GameJoined(GamePlace),
    /// The user is on a game's waitlist.
    #[serde(rename = "game.waitlisted")]
    GameWaitlisted(GamePlace),
    /// The user moved from the waitlist to a place.
    #[serde(rename = "game.promoted")]
    GamePromoted(GamePlace),
    /// A game was called off (to its players and waitlist).
    #[serde(rename = "game.cancelled")]
    GameCancelled(GameCalledOff),
    /// A game starts in an hour (to its players).
    #[serde(rename = "game.starting")]
    GameStarting(GameSoon),
    /// A set's score, or its correction, to everyone watching the game (not kept).
    #[serde(rename = "game.score")]
    GameScore(ScoreNews),
    /// The caller's sockets now watch a game's scores.
    #[serde(rename = "game.watching")]
    GameWatching(Watching),
    /// Someone commented on the user's post.
    #[serde(rename = "comment.created")]
    CommentCreated(CommentNews),
    /// Someone replied to the user's comment.
    #[serde(rename = "comment.replied")]
    CommentReplied(CommentNews),
    /// Someone named the user in a comment.
    #[serde(rename = "comment.mentioned")]
    CommentMentioned(CommentNews),
    /// A new entry in the user's notification feed (after the frame it is about).
    #[serde(rename = "notification.created")]
    NotificationCreated(FeedEntry),
    /// The user read entries on one of their devices (not kept).
    #[serde(rename = "notification.read")]
    NotificationRead(FeedRead),
    /// The socket's access token expired without a fresh one (`auth`); the socket closes.
    #[serde(rename = "session.expired")]
    SessionExpired(SessionExpired),
    /// The socket's session ended (a logout, a refresh token reused, a new password); the
    /// socket closes.
    #[serde(rename = "session.revoked")]
    SessionRevoked(SessionRevoked),
    /// An admin suspended the user; the socket closes.
    #[serde(rename = "account.suspended")]
    AccountSuspended(AccountSuspended),
    /// The answer to a client frame that worked, with the client frame's id.
    #[serde(rename = "ack")]
    Ack(Ack),
    /// The answer to a client frame that did not, with the client frame's id.
    #[serde(rename = "error")]
    Error(Problem),
    /// The answer to `ping`.
    #[serde(rename = "pong")]
    Pong,
    /// Another member started or stopped typing in a room (not kept).
    #[serde(rename = "typing")]
    Typing(TypingChange),
    /// Someone who shares a room with the user came online or went offline (not kept).
    #[serde(rename = "presence")]
    Presence(PresenceChange),
    /// The answer to `resume`: the missed frames have been sent; live frames follow.
    #[serde(rename = "resumed")]
    Resumed(Resumed),
    /// The socket fell too far behind and is closed; reconnect and `resume`.
    #[serde(rename = "lagged")]
    Lagged,
}

impl Frame {
    /// The frame's `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Ready(_) => "ready",
            Self::RoomCreated(_) => "room.created",
            Self::MessageSent(_) => "message.sent",
            Self::MessageEdited(_) => "message.edited",
            Self::MessageDeleted(_) => "message.deleted",
            Self::MemberJoined(_) => "room.member_joined",
            Self::MemberLeft(_) => "room.member_left",
            Self::RoomUpdated(_) => "room.updated",
            Self::RoleChanged(_) => "room.role_changed",
            Self::RoomRead(_) => "room.read",
            Self::CoupleMatched(_) => "couple.matched",
            Self::CoupleUpdated(_) => "couple.updated",
            Self::CoupleDissolved(_) => "couple.dissolved",
            Self::AnniversaryChanged(_) => "anniversary.changed",
            Self::AnniversaryUpcoming(_) => "anniversary.upcoming",
            Self::PlanCreated(_) => "plan.created",
            Self::PlanUpdated(_) => "plan.updated",
            Self::PlanDeleted(_) => "plan.deleted",
            Self::PlanReminder(_) => "plan.reminder",
            Self::LocationUpdated(_) => "location.updated",
            Self::LocationStopped(_) => "location.stopped",
            Self::RoomArchived(_) => "room.archived",
            Self::GameJoined(_) => "game.joined",
            Self::GameWaitlisted(_) => "game.waitlisted",
            Self::GamePromoted(_) => "game.promoted",
            Self::GameCancelled(_) => "game.cancelled",
            Self::GameStarting(_) => "game.starting",
            Self::GameScore(_) => "game.score",
            Self::GameWatching(_) => "game.watching",
            Self::CommentCreated(_) => "comment.created",
            Self::CommentReplied(_) => "comment.replied",
            Self::CommentMentioned(_) => "comment.mentioned",
            Self::NotificationCreated(_) => "notification.created",
            Self::NotificationRead(_) => "notification.read",
            Self::SessionExpired(_) => "session.expired",
            Self::SessionRevoked(_) => "session.revoked",
            Self::AccountSuspended(_) => "account.suspended",
            Self::Ack(_) => "ack",
            Self::Error(_) => "error",
            Self::Pong => "pong",
            Self::Typing(_) => "typing",
            Self::Presence(_) => "presence",
            Self::Resumed(_) => "resumed",
            Self::Lagged => "lagged",
        }
    }
}

/// A frame as sent: its type and data, and an id — a push's id, which lets a client (and each
/// API process) drop a frame it has already seen, or the id of the client frame answered. A
/// frame about a room also names it and carries the room's change number, which a client hands
/// back in `resume`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OutFrame {
    /// The push id or the answered client frame's id (absent on `ready`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The room the frame is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_id: Option<Uuid>,
    /// The room's change number: one counter over every change to the room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rev: Option<i64>,
    /// On a frame for the user alone: where it stands in their feed (`resume`'s `after`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Type and data.
    #[serde(flatten)]
    pub frame: Frame,
}

/// Data of `ready`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Ready {
    /// Whose socket this is.
    pub user_id: Uuid,
}

/// Data of `couple.matched`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GamePlace {
    /// The feed entry.
    pub notification_id: Uuid,
    /// The game.
    pub game_id: Uuid,
    /// Place on the waitlist (1-based), for `game.waitlisted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u32>,
}

/// Data of `game.cancelled`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GameCalledOff {
    /// The feed entry.
    pub notification_id: Uuid,
    /// The game.
    pub game_id: Uuid,
    /// Why.
    pub reason: String,
}

/// Data of `game.starting`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GameSoon {
    /// The feed entry.
    pub notification_id: Uuid,
    /// The game.
    pub game_id: Uuid,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
}

/// Data of `game.score`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScoreNews {
    /// The game.
    pub game_id: Uuid,
    /// The court.
    pub court: u32,
    /// The set.
    pub set_no: u32,
    /// `team_a`'s points.
    pub team_a: u32,
    /// `team_b`'s points.
    pub team_b: u32,
    /// The score's version (a correction has the next).
    pub version: u32,
}

/// Data of `game.watching`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Watching {
    /// The game.
    pub game_id: Uuid,
}

/// Data of `comment.created` and `comment.replied`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CommentNews {
    /// The feed entry.
    pub notification_id: Uuid,
    /// The post.
    pub post_id: Uuid,
    /// The new comment.
    pub comment_id: Uuid,
    /// The comment it answers.
    pub parent_id: Option<Uuid>,
    /// Who wrote it.
    pub author_id: Uuid,
    /// Its first 100 characters.
    pub excerpt: String,
}

/// Data of `session.revoked`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionRevoked {
    /// The session that ended.
    pub session_id: Uuid,
}

/// Data of `account.suspended`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AccountSuspended {
    /// When the suspension ends by itself (absent: when an admin lifts it).
    pub until: Option<DateTime<Utc>>,
}

/// Data of `session.expired`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionExpired {
    /// When the socket's token expired.
    pub expired_at: DateTime<Utc>,
}

/// Data of `ack`: what the client frame produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Ack {
    /// After `message.send`: the message, as the HTTP `201` has it.
    Message(ChatMessage),
    /// After `room.read`: the caller's read pointer, as the HTTP answer has it.
    Read(ReadPointer),
    /// After `auth`: when the socket's new token expires.
    Renewed {
        /// The new token's expiry.
        expires_at: DateTime<Utc>,
    },
    /// After `typing`: nothing to tell.
    Done {},
}

/// Data of `resumed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Resumed {
    /// Per room named in `resume`: whether every missed frame was sent.
    pub rooms: std::collections::BTreeMap<Uuid, Recovery>,
    /// When `resume` gave `after`: whether every missed frame of the user's own was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed: Option<Recovery>,
}

/// Whether a room's missed frames were replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Recovery {
    /// False when the client is too far behind (or not in the room): page history instead.
    pub recovered: bool,
}

/// An RFC 9457 problem: the body of every HTTP error and the data of an `error` frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// Until when a refusal holds, when it ends (a suspension's end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
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
            until: None,
        }
    }
}

/// A client-to-server frame: `{"type", "id", "data"}`, answered with `ack` or `error` carrying
/// the same `id`.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
pub struct InFrame {
    /// The client's id for it, echoed in the answer.
    #[serde(default)]
    pub id: Option<String>,
    /// Type and data.
    #[serde(flatten)]
    pub frame: ClientFrame,
}

/// What a client may send on the socket.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", content = "data")]
pub enum ClientFrame {
    /// A fresh access token for this socket, before the current one expires.
    #[serde(rename = "auth")]
    Auth(Auth),
    /// Are you there? Answered with `pong`.
    #[serde(rename = "ping")]
    Ping,
    /// Send a message; answered with `ack` holding the message.
    #[serde(rename = "message.send")]
    MessageSend(MessageSend),
    /// Move the caller's read pointer; answered with `ack` holding it.
    #[serde(rename = "room.read")]
    RoomRead(RoomReadUpTo),
    /// Replay what was missed; answered with `resumed` after the replayed frames.
    #[serde(rename = "resume")]
    Resume(Resume),
    /// The user is (or stopped) typing in a room; answered with an empty `ack`.
    #[serde(rename = "typing")]
    Typing(TypingIn),
    /// The user's position, for their partner only; answered with an empty `ack`.
    #[serde(rename = "location.update")]
    LocationUpdate(LocationIn),
    /// The user stops sharing their position; answered with an empty `ack`.
    #[serde(rename = "location.stop")]
    LocationStop,
}

/// Data of the client's `typing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
pub struct TypingIn {
    /// The room.
    pub room_id: Uuid,
    /// Started (true; lapses after a few seconds unless sent again) or stopped.
    pub typing: bool,
}

/// Data of the server's `typing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TypingChange {
    /// The room.
    pub room_id: Uuid,
    /// Who.
    pub user_id: Uuid,
    /// Whether they are typing now.
    pub typing: bool,
}

/// Data of `presence`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PresenceChange {
    /// Who.
    pub user_id: Uuid,
    /// Whether they have a socket open now.
    pub online: bool,
    /// When this changed.
    pub last_seen: DateTime<Utc>,
}

/// Data of `message.send`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
pub struct MessageSend {
    /// The room.
    pub room_id: Uuid,
    /// The sender's id for the message; a retry sends the same.
    pub client_msg_id: Uuid,
    /// The text (an image's caption, which may be empty).
    #[serde(default)]
    pub body: String,
    /// `text` (the default) or `image`.
    #[serde(default)]
    pub kind: Option<String>,
    /// An image message's upload.
    #[serde(default)]
    pub media_id: Option<Uuid>,
}

/// Data of `room.read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
pub struct RoomReadUpTo {
    /// The room.
    pub room_id: Uuid,
    /// Everything up to this seq is read.
    pub seq: u64,
}

/// Data of `resume`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, utoipa::ToSchema)]
pub struct Resume {
    /// Per room, the last `rev` the client saw.
    #[serde(default)]
    pub rooms: std::collections::BTreeMap<Uuid, i64>,
    /// The `cursor` of the last frame of the user's own the client saw.
    #[serde(default)]
    pub after: Option<String>,
}

/// Data of `auth`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
pub struct Auth {
    /// The new access token.
    pub access_token: String,
}

/// A frame for one user or one room, to send after the transaction that produced it commits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Push {
    /// Stable id, derived from the event (and the user): lets receivers drop a re-sent push.
    pub id: Uuid,
    /// Who gets it.
    pub to: Audience,
    /// What they get.
    pub frame: Frame,
    /// The request the event came from, carried on as a header so it can be followed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
}

/// Who a push is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum Audience {
    /// One user's sockets.
    User {
        /// The user.
        user_id: Uuid,
        /// The room (and its change number) this frame puts the user in.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        enters: Option<(Uuid, i64)>,
        /// Where the frame stands in the user's feed; none on what is not kept.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cursor: Option<Position>,
        /// The game whose scores the user's sockets start watching with it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        watch: Option<Uuid>,
    },
    /// Every socket watching a game, published once; not kept.
    Game {
        /// The game.
        game_id: Uuid,
    },
    /// Every member of a room, published once.
    Room {
        /// The room.
        room_id: Uuid,
        /// The change number the frame carries.
        rev: i64,
        /// Members who must not get it.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        except: Vec<Uuid>,
        /// The message seq it stands at: members who joined after it do not get it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        /// The member it removes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        leaver: Option<Uuid>,
    },
}

impl Push {
    /// The frame as it goes on the wire.
    pub fn to_wire(&self) -> Result<Vec<u8>, serde_json::Error> {
        let (room_id, rev, cursor) = match self.to {
            Audience::User { enters, cursor, .. } => (
                enters.map(|e| e.0),
                enters.map(|e| e.1),
                cursor.map(|c| c.to_string()),
            ),
            Audience::Room { room_id, rev, .. } => (Some(room_id), Some(rev), None),
            Audience::Game { .. } => (None, None, None),
        };
        serde_json::to_vec(&OutFrame {
            id: Some(self.id.to_string()),
            room_id,
            rev,
            cursor,
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
                media_id: None,
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
            Frame::GameCancelled(GameCalledOff {
                notification_id: id,
                game_id: id,
                reason: "rain".into(),
            }),
            Frame::GameStarting(GameSoon {
                notification_id: id,
                game_id: id,
                starts_at: DateTime::<Utc>::default(),
            }),
            Frame::GameScore(ScoreNews {
                game_id: id,
                court: 1,
                set_no: 1,
                team_a: 21,
                team_b: 19,
                version: 1,
            }),
            Frame::GameWatching(Watching { game_id: id }),
            Frame::CommentCreated(CommentNews {
                notification_id: id,
                post_id: id,
                comment_id: id,
                parent_id: None,
                author_id: id,
                excerpt: "좋아요".into(),
            }),
            Frame::CommentReplied(CommentNews {
                notification_id: id,
                post_id: id,
                comment_id: id,
                parent_id: Some(id),
                author_id: id,
                excerpt: "고마워요".into(),
            }),
            Frame::CommentMentioned(CommentNews {
                notification_id: id,
                post_id: id,
                comment_id: id,
                parent_id: None,
                author_id: id,
                excerpt: "@박 여기 어때".into(),
            }),
            Frame::NotificationCreated(FeedEntry {
                notification_id: id,
                kind: "comment.replied".into(),
                data: serde_json::json!({ "post_id": id }),
                created_at: DateTime::<Utc>::default(),
                read_at: None,
                cursor: "1.2".into(),
            }),
            Frame::NotificationRead(FeedRead {
                notification_id: None,
                through: Some("1.2".into()),
                unread: 0,
            }),
            Frame::SessionExpired(SessionExpired {
                expired_at: DateTime::<Utc>::default(),
            }),
            Frame::Ack(Ack::Done {}),
            Frame::Ack(Ack::Renewed {
                expires_at: DateTime::<Utc>::default(),
            }),
            Frame::RoomCreated(RoomOpened {
                room_id: Uuid::nil(),
                kind: domain::chat::RoomKind::Group,
                name: "우리".into(),
                member_ids: vec![Uuid::nil()],
            }),
            Frame::Typing(TypingChange {
                room_id: Uuid::nil(),
                user_id: Uuid::nil(),
                typing: true,
            }),
            Frame::Presence(PresenceChange {
                user_id: Uuid::nil(),
                online: false,
                last_seen: DateTime::<Utc>::default(),
            }),
            Frame::Resumed(Resumed {
                rooms: [(Uuid::nil(), Recovery { recovered: true })].into(),
                feed: Some(Recovery { recovered: false }),
            }),
            Frame::Error(Problem::new(400, "Bad Request", "bad_frame", "what?")),
        ]
    }

    #[test]
    fn frames_are_type_id_and_data_and_read_back_the_same() {
        for frame in every_frame() {
            let out = OutFrame {
                id: Some("7".into()),
                room_id: Some(Uuid::nil()),
                rev: Some(3),
                cursor: Some("1.2".into()),
                frame: frame.clone(),
            };
            let json = serde_json::to_value(&out).unwrap_or_default();
            assert_eq!(json["type"], frame.kind(), "kind() names the wire type");
            assert_eq!(json["id"], "7");
            assert_eq!(json["rev"], 3);
            assert!(json["data"].is_object());
            assert_eq!(serde_json::from_value::<OutFrame>(json).ok(), Some(out));
        }
        let pong = serde_json::to_value(OutFrame {
            id: None,
            room_id: None,
            rev: None,
            cursor: None,
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
