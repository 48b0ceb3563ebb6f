//! Read model of chat rooms, their members and their messages.

use chrono::{DateTime, Utc};
use domain::chat::{ChatEvent, ChatRoom, MemberRole, RoomKind};
use domain::Aggregate;
use futures::future::BoxFuture;
use moim_nats::EventEnvelope;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::decode::decode;
use crate::frames::ChatMessage;
use crate::{ProjectionError, Push, ReadModel, View};

/// The chat view.
pub const VIEW: View = View::of(&Chat);

struct Chat;

impl ReadModel for Chat {
    fn name(&self) -> &'static str {
        "chat"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["chat_rooms", "chat_room_members", "chat_messages"]
    }

    fn apply_one<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        event: &'a EventEnvelope,
        _: Option<&'a mut Vec<Push>>,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(apply(tx, event))
    }

    fn apply<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        events: &'a [EventEnvelope],
        _: Option<&'a mut Vec<Push>>,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(apply_many(tx, events))
    }
}

/// A room as listed for a member.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Room {
    /// The room.
    pub room_id: Uuid,
    /// Its name.
    pub name: String,
    /// `direct` or `group`.
    pub kind: String,
    /// Who opened it.
    pub created_by: Uuid,
    /// When.
    pub created_at: DateTime<Utc>,
    /// The seq of its latest message (0 when none).
    pub last_seq: i64,
    /// When its latest message was sent.
    pub last_message_at: Option<DateTime<Utc>>,
    /// How many are in it.
    pub members_count: i64,
    /// Who is in it: the first [`MEMBERS_LISTED`] by id (a large room's members are not all
    /// listed with every room).
    pub member_ids: Vec<Uuid>,
    #[serde(skip)]
    active_at: DateTime<Utc>,
}

/// At most this many member ids come with each listed room.
pub const MEMBERS_LISTED: i64 = 50;

/// Where a page of rooms ends: the last room's activity time and id, `<micros>_<room_id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomCursor {
    at: DateTime<Utc>,
    room_id: Uuid,
}

impl std::str::FromStr for RoomCursor {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        let (micros, room_id) = s.split_once('_').ok_or(())?;
        Ok(Self {
            at: DateTime::from_timestamp_micros(micros.parse().map_err(|_| ())?).ok_or(())?,
            room_id: room_id.parse().map_err(|_| ())?,
        })
    }
}

impl std::fmt::Display for RoomCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}_{}", self.at.timestamp_micros(), self.room_id)
    }
}

/// A page of a member's rooms, most recently active first.
#[derive(Debug, Clone, Serialize)]
pub struct RoomPage {
    /// The rooms.
    pub rooms: Vec<Room>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

const HISTORY_BACK: &str =
    "SELECT message_id, room_id, seq, sender_id, client_msg_id, body, sent_at FROM chat_messages
     WHERE room_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3";
const HISTORY_FORWARD: &str =
    "SELECT message_id, room_id, seq, sender_id, client_msg_id, body, sent_at FROM chat_messages
     WHERE room_id = $1 AND seq > $2 ORDER BY seq LIMIT $3";

/// A page of history, in the order asked for.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    /// The messages.
    pub messages: Vec<ChatMessage>,
    /// Whether more messages lie beyond this page (older, or newer when paging forward).
    pub has_more: bool,
}

async fn apply(tx: &mut PgConnection, event: &EventEnvelope) -> Result<(), ProjectionError> {
    if event.aggregate_type != ChatRoom::TYPE {
        return Ok(());
    }
    match decode(event)? {
        ChatEvent::RoomCreated(e) => {
            let kind = match e.kind {
                RoomKind::Direct => "direct",
                RoomKind::Group => "group",
            };
            sqlx::query(
                "INSERT INTO chat_rooms (room_id, name, kind, created_by, created_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (room_id) DO NOTHING",
            )
            .bind(e.room_id)
            .bind(&e.name)
            .bind(kind)
            .bind(e.created_by)
            .bind(e.created_at)
            .execute(&mut *tx)
            .await?;
            let (ids, roles): (Vec<Uuid>, Vec<String>) = e
                .members
                .iter()
                .map(|m| (m.user_id, role_name(m.role)))
                .unzip();
            sqlx::query(
                "INSERT INTO chat_room_members (room_id, user_id, role)
                 SELECT $1, * FROM unnest($2::uuid[], $3::text[])
                 ON CONFLICT DO NOTHING",
            )
            .bind(e.room_id)
            .bind(&ids)
            .bind(&roles)
            .execute(&mut *tx)
            .await?;
        }
        ChatEvent::MessageSent(e) => {
            // One statement for both writes: one round trip per message.
            sqlx::query(
                "WITH message AS (
                     INSERT INTO chat_messages
                         (room_id, seq, message_id, sender_id, client_msg_id, body, sent_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING
                 )
                 UPDATE chat_rooms SET last_seq = GREATEST(last_seq, $2), last_message_at = $7
                 WHERE room_id = $1",
            )
            .bind(e.room_id)
            .bind(e.seq as i64)
            .bind(e.message_id)
            .bind(e.sender_id)
            .bind(e.client_msg_id)
            .bind(&e.body)
            .bind(e.sent_at)
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(())
}

/// Up to `limit` of the rooms `user_id` is in, most recently active first, after `cursor`.
pub async fn rooms_of(
    pool: &PgPool,
    user_id: Uuid,
    cursor: Option<RoomCursor>,
    limit: i64,
) -> Result<RoomPage, ProjectionError> {
    let mut rooms: Vec<Room> = sqlx::query_as(
        "SELECT r.room_id, r.name, r.kind, r.created_by, r.created_at, r.last_seq, r.last_message_at,
                COALESCE(r.last_message_at, r.created_at) AS active_at,
                (SELECT count(*) FROM chat_room_members m WHERE m.room_id = r.room_id) AS members_count,
                ARRAY(SELECT m.user_id FROM chat_room_members m WHERE m.room_id = r.room_id
                      ORDER BY m.user_id LIMIT $5) AS member_ids
         FROM chat_rooms r JOIN chat_room_members me ON me.room_id = r.room_id AND me.user_id = $1
         WHERE $2::timestamptz IS NULL
            OR (COALESCE(r.last_message_at, r.created_at), r.room_id) < ($2, $3)
         ORDER BY active_at DESC, r.room_id DESC LIMIT $4",
    )
    .bind(user_id)
    .bind(cursor.map(|c| c.at))
    .bind(cursor.map(|c| c.room_id))
    .bind(limit + 1)
    .bind(MEMBERS_LISTED)
    .fetch_all(pool)
    .await?;
    let more = rooms.len() as i64 > limit;
    rooms.truncate(usize::try_from(limit).unwrap_or(0));
    let next_cursor = rooms.last().filter(|_| more).map(|r| {
        RoomCursor {
            at: r.active_at,
            room_id: r.room_id,
        }
        .to_string()
    });
    Ok(RoomPage { rooms, next_cursor })
}

/// Which page of history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryFrom {
    /// The newest messages, newest first.
    Newest,
    /// Messages before this seq, newest first (scrolling back).
    Before(i64),
    /// Messages after this seq, oldest first (catching up).
    After(i64),
}

/// Up to `limit` messages of a room, from where `from` says.
pub async fn history(
    pool: &PgPool,
    room_id: Uuid,
    from: HistoryFrom,
    limit: i64,
) -> Result<Page, ProjectionError> {
    let (sql, bound) = match from {
        HistoryFrom::Newest => (HISTORY_BACK, i64::MAX),
        HistoryFrom::Before(seq) => (HISTORY_BACK, seq),
        HistoryFrom::After(seq) => (HISTORY_FORWARD, seq),
    };
    let mut messages: Vec<ChatMessage> = sqlx::query_as(sql)
        .bind(room_id)
        .bind(bound)
        .bind(limit + 1)
        .fetch_all(pool)
        .await?;
    let has_more = messages.len() as i64 > limit;
    messages.truncate(limit as usize);
    Ok(Page { messages, has_more })
}

/// Messages waiting to be written together.
#[derive(Default)]
struct Pending {
    room_ids: Vec<Uuid>,
    seqs: Vec<i64>,
    message_ids: Vec<Uuid>,
    sender_ids: Vec<Uuid>,
    client_msg_ids: Vec<Uuid>,
    bodies: Vec<String>,
    sent_ats: Vec<DateTime<Utc>>,
}

impl Pending {
    /// Writes the messages with one insert and moves each room's latest seq with one update.
    async fn flush(&mut self, tx: &mut PgConnection) -> Result<(), ProjectionError> {
        if self.seqs.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "WITH message AS (
                 INSERT INTO chat_messages (room_id, seq, message_id, sender_id, client_msg_id, body, sent_at)
                 SELECT * FROM UNNEST($1::uuid[], $2::bigint[], $3::uuid[], $4::uuid[], $5::uuid[],
                                      $6::text[], $7::timestamptz[])
                 ON CONFLICT DO NOTHING
             ), latest AS (
                 SELECT DISTINCT ON (room_id) room_id, seq, sent_at
                 FROM UNNEST($1::uuid[], $2::bigint[], $7::timestamptz[]) AS m(room_id, seq, sent_at)
                 ORDER BY room_id, seq DESC
             )
             UPDATE chat_rooms r SET last_seq = GREATEST(r.last_seq, latest.seq),
                                     last_message_at = latest.sent_at
             FROM latest WHERE r.room_id = latest.room_id",
        )
        .bind(&self.room_ids)
        .bind(&self.seqs)
        .bind(&self.message_ids)
        .bind(&self.sender_ids)
        .bind(&self.client_msg_ids)
        .bind(&self.bodies)
        .bind(&self.sent_ats)
        .execute(&mut *tx)
        .await?;
        *self = Self::default();
        Ok(())
    }
}

/// Applies events in order, writing each run of messages with one statement.
async fn apply_many(
    tx: &mut PgConnection,
    events: &[EventEnvelope],
) -> Result<(), ProjectionError> {
    let mut pending = Pending::default();
    for event in events {
        if event.aggregate_type != ChatRoom::TYPE {
            continue;
        }
        match decode(event)? {
            ChatEvent::MessageSent(e) => {
                pending.room_ids.push(e.room_id);
                pending.seqs.push(e.seq as i64);
                pending.message_ids.push(e.message_id);
                pending.sender_ids.push(e.sender_id);
                pending.client_msg_ids.push(e.client_msg_id);
                pending.bodies.push(e.body);
                pending.sent_ats.push(e.sent_at);
            }
            ChatEvent::RoomCreated(_) => {
                // A room must exist before its messages move its latest seq.
                pending.flush(&mut *tx).await?;
                apply(&mut *tx, event).await?;
            }
        }
    }
    pending.flush(tx).await
}

fn role_name(role: MemberRole) -> String {
    match role {
        MemberRole::Owner => "owner",
        MemberRole::Admin => "admin",
        MemberRole::Member => "member",
    }
    .to_owned()
}
