//! Read model of chat rooms, their members (current and former, with read pointers) and their
//! messages (text, system and tombstones), and the queries served from it: room lists, history,
//! search. Search itself lives in [`crate::chat_search`].

use chrono::{DateTime, Utc};
use domain::chat::{ChatEvent, ChatRoom};
use domain::Aggregate;
use futures::future::BoxFuture;
use moim_nats::EventEnvelope;
use serde::Serialize;
use sqlx::postgres::PgArguments;
use sqlx::{Arguments, PgConnection, PgPool};
use uuid::Uuid;

use crate::decode::decode;
use crate::frames::{seq_of, ChatMessage};
use crate::{bigrams, chat_bulk};
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
        events: &'a [&'a EventEnvelope],
        _: Option<&'a mut Vec<Push>>,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(apply_many(tx, events, Insert::Idempotent))
    }

    fn replay<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        events: &'a [&'a EventEnvelope],
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(apply_many(tx, events, Insert::Fresh))
    }

    fn write_alone(
        &self,
        events: &[&EventEnvelope],
        args: &mut PgArguments,
    ) -> Result<Option<&'static str>, ProjectionError> {
        // A run of sent messages: whatever else happens to a room takes a transaction.
        let mut pending = Pending::default();
        for event in events {
            match decode(event)? {
                ChatEvent::MessageSent(e) => pending.push(e),
                _ => return Ok(None),
            }
        }
        pending.bind(args).map_err(sqlx::Error::Encode)?;
        Ok(Some(FLUSH_CTES))
    }

    fn reads(&self) -> Option<&'static [&'static str]> {
        Some(&[ChatRoom::TYPE])
    }

    fn aggregates_apart(&self) -> bool {
        true
    }

    fn indexed_after_filling(&self) -> &'static [&'static str] {
        // A message is found by its room and seq; its id is unique because its event's is.
        &["chat_messages_message_id_key"]
    }
}

/// A room as listed for a member.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Room {
    /// The room.
    pub room_id: Uuid,
    /// Its name.
    pub name: String,
    /// `direct`, `group`, `public`, `couple` or `club`.
    #[schema(value_type = domain::chat::RoomKind)]
    pub kind: String,
    /// Whether it is archived: read, never written (a dissolved couple's room).
    pub read_only: bool,
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
    /// Messages (not system ones) after the caller's read pointer: none of them the caller's,
    /// since sending moves one's own pointer.
    pub unread_count: i64,
    /// The latest message, system ones included; null in a room without any.
    #[sqlx(skip)]
    pub last_message: Option<ChatMessage>,
    #[serde(skip)]
    active_at: DateTime<Utc>,
}

/// At most this many member ids come with each listed room.
pub const MEMBERS_LISTED: i64 = 50;

/// Where a page ends: the last row's time and id, `<micros>_<id>` (a room's activity or
/// creation, a search hit's sending).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    at: DateTime<Utc>,
    id: Uuid,
}

impl Cursor {
    /// The cursor after a row.
    fn after(at: DateTime<Utc>, id: Uuid) -> Self {
        Self { at, id }
    }

    /// Cuts rows fetched one past `limit` back to `limit`, answering the cursor after the last
    /// kept row when there were more.
    pub(crate) fn cut<T>(
        rows: &mut Vec<T>,
        limit: i64,
        key: impl Fn(&T) -> (DateTime<Utc>, Uuid),
    ) -> Option<String> {
        let more = rows.len() as i64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        let (at, id) = rows.last().filter(|_| more).map(&key)?;
        Some(Self::after(at, id).to_string())
    }

    pub(crate) fn at(self) -> DateTime<Utc> {
        self.at
    }

    pub(crate) fn id(self) -> Uuid {
        self.id
    }
}

impl std::str::FromStr for Cursor {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        let (micros, room_id) = s.split_once('_').ok_or(())?;
        let micros: i64 = micros.parse().map_err(|_| ())?;
        // Only times PostgreSQL can hold (and we could have given out): 1970 to 9999.
        if !(0..=253_402_300_799_999_999).contains(&micros) {
            return Err(());
        }
        Ok(Self {
            at: DateTime::from_timestamp_micros(micros).ok_or(())?,
            id: room_id.parse().map_err(|_| ())?,
        })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}_{}", self.at.timestamp_micros(), self.id)
    }
}

/// A page of a member's rooms, most recently active first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RoomPage {
    /// The rooms.
    pub rooms: Vec<Room>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// The columns of a [`ChatMessage`], `unread_count` computed from the current members' read
/// pointers (a member who joined after a message has a pointer past it). For queries on
/// `chat_messages m`.
pub(crate) const MESSAGE_COLUMNS: &str =
    "m.message_id, m.room_id, m.seq, m.kind, m.sender_id, m.client_msg_id, m.body, m.system,
     m.deleted, m.edited_at, m.sent_at, m.media_id,
     CASE WHEN m.kind = 'system' THEN 0 ELSE
         (SELECT count(*) FROM chat_room_members r
          WHERE r.room_id = m.room_id AND r.left_seq IS NULL AND r.user_id <> m.sender_id
            AND r.last_read_seq < m.seq) END AS unread_count";

/// A page of history, in the order asked for.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = MessagePage)]
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
    let decoded: ChatEvent = decode(event)?;
    if let Some(message) = ChatMessage::of_system_event(event.event_id, &decoded) {
        insert_system_message(tx, &message).await?;
    }
    match decoded {
        ChatEvent::RoomCreated(e) => {
            sqlx::query(
                "INSERT INTO chat_rooms (room_id, name, kind, created_by, created_at, members_count)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (room_id) DO NOTHING",
            )
            .bind(e.room_id)
            .bind(&e.name)
            .bind(e.kind.as_str())
            .bind(e.created_by)
            .bind(e.created_at)
            .bind(e.members.len() as i64)
            .execute(&mut *tx)
            .await?;
            let (ids, roles): (Vec<Uuid>, Vec<&str>) = e
                .members
                .iter()
                .map(|m| (m.user_id, m.role.as_str()))
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
            let mut pending = Pending::default();
            pending.push(e);
            pending.flush(tx, Insert::Idempotent).await?;
        }
        ChatEvent::MembersJoined(e) => {
            // A returning member starts afresh from their new join.
            sqlx::query(
                "INSERT INTO chat_room_members (room_id, user_id, role, joined_seq, last_read_seq)
                 SELECT $1, unnest($2::uuid[]), 'member', $3, $3
                 ON CONFLICT (room_id, user_id) DO UPDATE SET role = 'member',
                     joined_seq = $3, left_seq = NULL, last_read_seq = $3",
            )
            .bind(e.room_id)
            .bind(&e.user_ids)
            .bind(seq_of(e.seq))
            .execute(&mut *tx)
            .await?;
            count_members(tx, e.room_id).await?;
        }
        ChatEvent::MemberLeft(e) => {
            sqlx::query(
                "UPDATE chat_room_members SET left_seq = $3 WHERE room_id = $1 AND user_id = $2",
            )
            .bind(e.room_id)
            .bind(e.user_id)
            .bind(seq_of(e.seq))
            .execute(&mut *tx)
            .await?;
            if let Some(owner) = e.new_owner {
                set_role(tx, e.room_id, owner, "owner").await?;
            }
            count_members(tx, e.room_id).await?;
        }
        ChatEvent::RoomRenamed(e) => {
            sqlx::query("UPDATE chat_rooms SET name = $2 WHERE room_id = $1")
                .bind(e.room_id)
                .bind(&e.name)
                .execute(&mut *tx)
                .await?;
        }
        ChatEvent::MemberRoleChanged(e) => {
            set_role(tx, e.room_id, e.user_id, e.role.as_str()).await?;
        }
        ChatEvent::MessageEdited(e) => {
            sqlx::query(
                "UPDATE chat_messages SET body = $3, edited_at = $4, grams = $5
                 WHERE room_id = $1 AND seq = $2 AND NOT deleted",
            )
            .bind(e.room_id)
            .bind(seq_of(e.seq))
            .bind(&e.body)
            .bind(e.edited_at)
            .bind(bigrams::of(&e.body))
            .execute(&mut *tx)
            .await?;
        }
        ChatEvent::MessageDeleted(e) => {
            // The body goes, and with it the search pairs.
            sqlx::query(
                "UPDATE chat_messages SET body = NULL, grams = '{}', deleted = true
                 WHERE room_id = $1 AND seq = $2",
            )
            .bind(e.room_id)
            .bind(seq_of(e.seq))
            .execute(&mut *tx)
            .await?;
        }
        ChatEvent::RoomArchived(e) => {
            sqlx::query("UPDATE chat_rooms SET archived_at = $2 WHERE room_id = $1")
                .bind(e.room_id)
                .bind(e.archived_at)
                .execute(&mut *tx)
                .await?;
        }
        ChatEvent::MessagesRead(e) => {
            sqlx::query(
                "UPDATE chat_room_members SET last_read_seq = GREATEST(last_read_seq, $3)
                 WHERE room_id = $1 AND user_id = $2",
            )
            .bind(e.room_id)
            .bind(e.user_id)
            .bind(seq_of(e.seq))
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(())
}

/// A system message takes its seq in the history like any message, and counts no more unread.
async fn insert_system_message(
    tx: &mut PgConnection,
    message: &ChatMessage,
) -> Result<(), ProjectionError> {
    let note = serde_json::to_value(&message.system).map_err(ProjectionError::Encode)?;
    sqlx::query(
        "WITH message AS (
             INSERT INTO chat_messages (room_id, seq, message_id, sender_id, kind, system, sent_at, n)
             VALUES ($1, $2, $3, $4, 'system', $5, $6,
                     COALESCE((SELECT n FROM chat_messages WHERE room_id = $1 AND seq = $2 - 1), 0))
             ON CONFLICT DO NOTHING
         )
         UPDATE chat_rooms SET last_seq = GREATEST(last_seq, $2), last_message_at = $6
         WHERE room_id = $1",
    )
    .bind(message.room_id)
    .bind(message.seq)
    .bind(message.message_id)
    .bind(message.sender_id)
    .bind(note)
    .bind(message.sent_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn set_role(
    tx: &mut PgConnection,
    room_id: Uuid,
    user_id: Uuid,
    role: &str,
) -> Result<(), ProjectionError> {
    sqlx::query("UPDATE chat_room_members SET role = $3 WHERE room_id = $1 AND user_id = $2")
        .bind(room_id)
        .bind(user_id)
        .bind(role)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

async fn count_members(tx: &mut PgConnection, room_id: Uuid) -> Result<(), ProjectionError> {
    sqlx::query(
        "UPDATE chat_rooms SET members_count = (SELECT count(*) FROM chat_room_members
                                                WHERE room_id = $1 AND left_seq IS NULL)
         WHERE room_id = $1",
    )
    .bind(room_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Up to `limit` of the rooms `user_id` is in, most recently active first, after `cursor`.
pub async fn rooms_of(
    pool: &PgPool,
    user_id: Uuid,
    cursor: Option<Cursor>,
    limit: i64,
) -> Result<RoomPage, ProjectionError> {
    let mut rooms: Vec<Room> = sqlx::query_as(
        "SELECT r.room_id, r.name, r.kind, r.archived_at IS NOT NULL AS read_only, r.created_by, r.created_at, r.last_seq, r.last_message_at,
                COALESCE(r.last_message_at, r.created_at) AS active_at, r.members_count,
                ARRAY(SELECT m.user_id FROM chat_room_members m
                      WHERE m.room_id = r.room_id AND m.left_seq IS NULL
                      ORDER BY m.user_id LIMIT $5) AS member_ids,
                r.text_count - COALESCE((SELECT p.n FROM chat_messages p
                                         WHERE p.room_id = r.room_id AND p.seq = me.last_read_seq), 0)
                    AS unread_count
         FROM chat_rooms r JOIN chat_room_members me
              ON me.room_id = r.room_id AND me.user_id = $1 AND me.left_seq IS NULL
         WHERE $2::timestamptz IS NULL
            OR (COALESCE(r.last_message_at, r.created_at), r.room_id) < ($2, $3)
         ORDER BY active_at DESC, r.room_id DESC LIMIT $4",
    )
    .bind(user_id)
    .bind(cursor.map(|c| c.at))
    .bind(cursor.map(|c| c.id))
    .bind(limit + 1)
    .bind(MEMBERS_LISTED)
    .fetch_all(pool)
    .await?;
    let next_cursor = Cursor::cut(&mut rooms, limit, |r| (r.active_at, r.room_id));
    let (ids, seqs): (Vec<Uuid>, Vec<i64>) = rooms
        .iter()
        .filter(|r| r.last_seq > 0)
        .map(|r| (r.room_id, r.last_seq))
        .unzip();
    let last: Vec<ChatMessage> = sqlx::query_as(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM chat_messages m
         JOIN unnest($1::uuid[], $2::bigint[]) AS l(room_id, seq) USING (room_id, seq)"
    ))
    .bind(&ids)
    .bind(&seqs)
    .fetch_all(pool)
    .await?;
    for message in last {
        if let Some(room) = rooms.iter_mut().find(|r| r.room_id == message.room_id) {
            room.last_message = Some(message);
        }
    }
    Ok(RoomPage { rooms, next_cursor })
}

/// A room as its members see it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct RoomDetails {
    /// The room.
    pub room_id: Uuid,
    /// Its name.
    pub name: String,
    /// `direct`, `group`, `public`, `couple` or `club`.
    #[schema(value_type = domain::chat::RoomKind)]
    pub kind: String,
    /// Whether it is archived: read, never written (a dissolved couple's room).
    pub read_only: bool,
    /// Who opened it.
    pub created_by: Uuid,
    /// When.
    pub created_at: DateTime<Utc>,
    /// The seq of its latest message.
    pub last_seq: i64,
    /// Everyone in it, longest member first (at most [`ChatRoom::MAX_MEMBERS`]).
    #[sqlx(skip)]
    pub members: Vec<RoomMemberView>,
}

/// A member as a room's details list them.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct RoomMemberView {
    /// The member.
    pub user_id: Uuid,
    /// Their display name (null until the users view has them).
    pub display_name: Option<String>,
    /// `owner`, `admin` or `member`.
    #[schema(value_type = domain::chat::MemberRole)]
    pub role: String,
    /// Every message up to this seq is read by them.
    pub last_read_seq: i64,
    /// Whether they have a socket open (filled in from presence, not stored here).
    #[sqlx(default)]
    pub online: bool,
    /// When they were last seen going offline (from presence; null while online or never).
    #[sqlx(default)]
    pub last_seen: Option<DateTime<Utc>>,
}

/// A room and its current members.
pub async fn room(pool: &PgPool, room_id: Uuid) -> Result<Option<RoomDetails>, ProjectionError> {
    let Some(mut room): Option<RoomDetails> = sqlx::query_as(
        "SELECT room_id, name, kind, archived_at IS NOT NULL AS read_only, created_by, created_at, last_seq
         FROM chat_rooms WHERE room_id = $1",
    )
    .bind(room_id)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    room.members = sqlx::query_as(
        "SELECT m.user_id, u.display_name, m.role, m.last_read_seq
         FROM chat_room_members m LEFT JOIN users_view u ON u.user_id = m.user_id
         WHERE m.room_id = $1 AND m.left_seq IS NULL ORDER BY m.joined_seq, m.user_id",
    )
    .bind(room_id)
    .fetch_all(pool)
    .await?;
    Ok(Some(room))
}

/// A public room as the directory lists it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct PublicRoom {
    /// The room.
    pub room_id: Uuid,
    /// Its name.
    pub name: String,
    /// How many are in it.
    pub members_count: i64,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// When its latest message was sent.
    pub last_message_at: Option<DateTime<Utc>>,
}

/// A page of public rooms, newest first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicRoomPage {
    /// The rooms.
    pub rooms: Vec<PublicRoom>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// Public rooms whose name contains `query` (any case), newest first.
pub async fn public_rooms(
    pool: &PgPool,
    query: Option<&str>,
    cursor: Option<Cursor>,
    limit: i64,
) -> Result<PublicRoomPage, ProjectionError> {
    let mut rooms: Vec<PublicRoom> = sqlx::query_as(
        "SELECT room_id, name, members_count, created_at, last_message_at FROM chat_rooms
         WHERE kind = 'public' AND ($1::text IS NULL OR strpos(lower(name), lower($1)) > 0)
           AND ($2::timestamptz IS NULL OR (created_at, room_id) < ($2, $3))
         ORDER BY created_at DESC, room_id DESC LIMIT $4",
    )
    .bind(query)
    .bind(cursor.map(|c| c.at))
    .bind(cursor.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(pool)
    .await?;
    let next_cursor = Cursor::cut(&mut rooms, limit, |r| (r.created_at, r.room_id));
    Ok(PublicRoomPage { rooms, next_cursor })
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

/// Up to `limit` messages of a room within the seqs `window` lets the reader see, from where
/// `from` says.
pub async fn history(
    pool: &PgPool,
    room_id: Uuid,
    window: (u64, Option<u64>),
    from: HistoryFrom,
    limit: i64,
) -> Result<Page, ProjectionError> {
    let (order, bound) = match from {
        HistoryFrom::Newest => ("m.seq < $2 ORDER BY m.seq DESC", i64::MAX),
        HistoryFrom::Before(seq) => ("m.seq < $2 ORDER BY m.seq DESC", seq),
        HistoryFrom::After(seq) => ("m.seq > $2 ORDER BY m.seq", seq),
    };
    let mut messages: Vec<ChatMessage> = sqlx::query_as(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM chat_messages m
         WHERE m.room_id = $1 AND m.seq >= $4 AND m.seq <= $5 AND {order} LIMIT $3"
    ))
    .bind(room_id)
    .bind(bound)
    .bind(limit + 1)
    .bind(seq_of(window.0))
    .bind(window.1.map_or(i64::MAX, seq_of))
    .fetch_all(pool)
    .await?;
    let has_more = messages.len() as i64 > limit;
    messages.truncate(limit as usize);
    Ok(Page { messages, has_more })
}

/// Whether a pending run's messages may already be in the table.
#[derive(Clone, Copy)]
enum Insert {
    /// Live: a batch that a crash left unacknowledged comes again, and its messages are there.
    Idempotent,
    /// A replay's shadow table, which sees each message once.
    Fresh,
}

/// What writes a pending run live: common table expressions that write only where the one-row
/// `go` says (in a batch's transaction, always; in a statement of their own, as the move of the
/// checkpoint there says, [`ReadModel::write_alone`]). A replay writes a run with `COPY` instead
/// ([`chat_bulk`]), which keeps the counts and pointers this keeps.
macro_rules! flush_ctes {
    () => {
        "batch AS (
                 SELECT b.* FROM go,
                        UNNEST($1::uuid[], $2::bigint[], $3::uuid[], $4::uuid[], $5::uuid[],
                               $6::text[], $7::timestamptz[], $8::int[], $9::uuid[],
                               $10::int[], $11::int[])
                     AS b(room_id, seq, message_id, sender_id, client_msg_id, body, sent_at, recipients,
                          media_id, grams_from, grams_to)
                 WHERE go.go
             ), base AS (
                 SELECT f.room_id, f.first_seq, COALESCE(p.n, 0) AS n0
                 FROM (SELECT room_id, min(seq) AS first_seq FROM batch GROUP BY room_id) f
                 -- One lookup by key per room, whatever the table's statistics say: as a plain
                 -- join, a plan made while the table was small hashed the batch and read every
                 -- message, and kept doing so on each batch as the table grew.
                 LEFT JOIN LATERAL (SELECT n FROM chat_messages
                                    WHERE room_id = f.room_id AND seq = f.first_seq - 1
                                    LIMIT 1) p ON true
             ), message AS (
                 INSERT INTO chat_messages (room_id, seq, message_id, sender_id, client_msg_id, body,
                                            sent_at, recipients, n, media_id, kind, grams)
                 SELECT b.room_id, b.seq, b.message_id, b.sender_id, b.client_msg_id, b.body,
                        b.sent_at, b.recipients, base.n0 + b.seq - base.first_seq + 1, b.media_id,
                        CASE WHEN b.media_id IS NULL THEN 'text' ELSE 'image' END,
                        ($12::bigint[])[b.grams_from:b.grams_to]
                 FROM batch b JOIN base USING (room_id)
                 ON CONFLICT DO NOTHING
             ), readers AS (
                 UPDATE chat_room_members m SET last_read_seq = GREATEST(m.last_read_seq, s.seq)
                 FROM (SELECT room_id, sender_id, max(seq) AS seq FROM batch GROUP BY 1, 2) s
                 WHERE m.room_id = s.room_id AND m.user_id = s.sender_id
             ), latest AS (
                 SELECT DISTINCT ON (room_id) room_id, seq, sent_at FROM batch
                 ORDER BY room_id, seq DESC
             ), rooms AS (
                 UPDATE chat_rooms r SET last_seq = GREATEST(r.last_seq, latest.seq),
                                         last_message_at = latest.sent_at,
                                         text_count = GREATEST(r.text_count,
                                                               base.n0 + latest.seq - base.first_seq + 1)
                 FROM latest JOIN base USING (room_id) WHERE r.room_id = latest.room_id
             )"
    };
}

/// What writes a pending run in a statement of its own: `ReadModel::write_alone` comes before
/// the macro in this file, and a macro can only be named after it is defined.
const FLUSH_CTES: &str = flush_ctes!();

/// The statement that writes a pending run inside a batch's transaction.
const FLUSH: &str = concat!("WITH go AS (SELECT true AS go), ", flush_ctes!(), " SELECT");

/// Messages waiting to be written together.
#[derive(Default)]
pub(crate) struct Pending {
    pub(crate) room_ids: Vec<Uuid>,
    pub(crate) seqs: Vec<i64>,
    pub(crate) message_ids: Vec<Uuid>,
    pub(crate) sender_ids: Vec<Uuid>,
    pub(crate) client_msg_ids: Vec<Uuid>,
    pub(crate) bodies: Vec<String>,
    /// The bodies' search pairs.
    pub(crate) grams: bigrams::Packed,
    pub(crate) sent_ats: Vec<DateTime<Utc>>,
    pub(crate) recipients: Vec<i32>,
    pub(crate) media_ids: Vec<Option<Uuid>>,
}

impl Pending {
    fn push(&mut self, e: domain::chat::MessageSent) {
        self.room_ids.push(e.room_id);
        self.seqs.push(seq_of(e.seq));
        self.message_ids.push(e.message_id);
        self.sender_ids.push(e.sender_id);
        self.client_msg_ids.push(e.client_msg_id);
        self.grams.push(Some(&e.body));
        self.bodies.push(e.body);
        self.sent_ats.push(e.sent_at);
        self.recipients
            .push(i32::try_from(e.recipients).unwrap_or(i32::MAX));
        self.media_ids.push(e.media_id);
    }

    /// Writes the messages, moves each room's latest seq and message count, and each sender's
    /// read pointer: live with one statement, in a replay with `COPY` ([`chat_bulk`]). A pending
    /// run holds only sent messages, in order and without gaps per room (a system message
    /// flushes it), so each message's running count `n` is the count before the run plus its
    /// place in it.
    async fn flush(
        &mut self,
        tx: &mut PgConnection,
        insert: Insert,
    ) -> Result<(), ProjectionError> {
        if self.seqs.is_empty() {
            return Ok(());
        }
        match insert {
            Insert::Idempotent => self.insert(tx).await?,
            Insert::Fresh => chat_bulk::write(tx, self).await?,
        }
        *self = Self::default();
        Ok(())
    }

    async fn insert(&self, tx: &mut PgConnection) -> Result<(), ProjectionError> {
        let mut args = PgArguments::default();
        self.bind(&mut args).map_err(sqlx::Error::Encode)?;
        sqlx::query_with(FLUSH, args).execute(&mut *tx).await?;
        Ok(())
    }

    /// Binds what `flush_ctes!` names, in its order.
    fn bind(&self, args: &mut PgArguments) -> Result<(), sqlx::error::BoxDynError> {
        args.add(&self.room_ids)?;
        args.add(&self.seqs)?;
        args.add(&self.message_ids)?;
        args.add(&self.sender_ids)?;
        args.add(&self.client_msg_ids)?;
        args.add(&self.bodies)?;
        args.add(&self.sent_ats)?;
        args.add(&self.recipients)?;
        args.add(&self.media_ids)?;
        args.add(&self.grams.from)?;
        args.add(&self.grams.to)?;
        args.add(&self.grams.pairs)
    }
}

/// Applies events in order, writing each run of sent messages together.
async fn apply_many(
    tx: &mut PgConnection,
    events: &[&EventEnvelope],
    insert: Insert,
) -> Result<(), ProjectionError> {
    let mut pending = Pending::default();
    for event in events {
        if event.aggregate_type != ChatRoom::TYPE {
            continue;
        }
        match decode(event)? {
            ChatEvent::MessageSent(e) => pending.push(e),
            _ => {
                // Whatever else happens to a room comes after the messages before it.
                pending.flush(&mut *tx, insert).await?;
                apply(&mut *tx, event).await?;
            }
        }
    }
    pending.flush(tx, insert).await
}
