//! Chat rooms and messages: opening and listing rooms, sending, history, edits and deletions,
//! read pointers and search. Running a room (members, roles, names) is `chat_members`.

use axum::extract::State;
use domain::chat::{Access, MessageContent, RoomKind};
use domain::values::{MessageBody, RoomName};
use futures::StreamExt;
use projections::chat::{Cursor, HistoryFrom, Page, RoomDetails, RoomPage, VIEW};
use projections::chat_search::{self, BadQuery, Hits};
use projections::frames::{seq_of, ChatMessage, DeletedMessage, EditedMessage, ReadPointer};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{page_limit, Written};
use crate::error::ApiError;
use crate::extract::{Actor, AuthUser, Consistency, Json, Path, Query};
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRoom {
    name: String,
    kind: RoomKind,
    #[serde(default)]
    member_ids: Vec<Uuid>,
}

#[derive(Serialize)]
pub struct RoomOpened {
    room_id: Uuid,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    client_msg_id: Uuid,
    #[serde(default)]
    body: String,
    kind: Option<String>,
    media_id: Option<Uuid>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditMessage {
    body: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkRead {
    seq: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    before: Option<i64>,
    after: Option<i64>,
    limit: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    cursor: Option<String>,
    limit: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    q: String,
    cursor: Option<String>,
    limit: Option<i64>,
}

/// `POST /chat/rooms`: 201 with a new room, 200 with the pair's existing direct room.
pub async fn create_room(
    actor: Actor,
    Json(body): Json<CreateRoom>,
) -> Result<Written<RoomOpened>, ApiError> {
    let name = RoomName::parse(&body.name)?;
    if matches!(body.kind, RoomKind::Couple | RoomKind::Club) {
        return Err(ApiError::invalid(
            "bad_kind",
            "couple and club rooms are opened by Moim with the couple or club",
        ));
    }
    let opened = actor
        .commands
        .create_room(actor.user_id, name, body.kind, body.member_ids)
        .await?;
    let out = RoomOpened {
        room_id: opened.room_id,
    };
    Ok(if opened.created {
        Written::created(out, opened.position)
    } else {
        Written::ok(out, opened.position)
    })
}

/// `GET /chat/rooms`: the caller's rooms, most recently active first.
pub async fn my_rooms(
    State(state): State<AppState>,
    AuthUser(user_id): AuthUser,
    Query(query): Query<PageQuery>,
    consistency: Option<Consistency>,
) -> Result<Json<RoomPage>, ApiError> {
    let limit = page_limit(query.limit)?;
    let cursor = parse_cursor(query.cursor)?;
    state.caught_up(VIEW, consistency).await?;
    Ok(Json(
        projections::chat::rooms_of(&state.pool, user_id, cursor, limit).await?,
    ))
}

/// `GET /chat/rooms/{room_id}`: for its members.
pub async fn room(
    State(state): State<AppState>,
    AuthUser(user_id): AuthUser,
    Path(room_id): Path<Uuid>,
    consistency: Option<Consistency>,
) -> Result<Json<RoomDetails>, ApiError> {
    match state.commands.room_access(room_id, user_id).await? {
        Some(Access::Member { .. }) => {}
        Some(Access::Former { .. }) => return Err(left_room()),
        None => return Err(room_not_found()),
    }
    state.caught_up(VIEW, consistency).await?;
    let mut room = projections::chat::room(&state.pool, room_id)
        .await?
        .ok_or_else(room_not_found)?;
    let ids: Vec<Uuid> = room.members.iter().map(|m| m.user_id).collect();
    let seen: Vec<_> = futures::stream::iter(ids)
        .map(|user_id| {
            let presence = state.presence.clone();
            async move {
                let online = presence.is_online(user_id);
                let last_seen = if online {
                    None
                } else {
                    presence.last_seen(user_id).await
                };
                (online, last_seen)
            }
        })
        .buffered(32)
        .collect()
        .await;
    for (member, (online, last_seen)) in room.members.iter_mut().zip(seen) {
        member.online = online;
        member.last_seen = last_seen;
    }
    Ok(Json(room))
}

/// What a member's message holds, from what a client sent (over HTTP or a socket alike): text,
/// or an image with an optional caption.
pub(crate) fn content(
    kind: Option<&str>,
    body: &str,
    media_id: Option<Uuid>,
) -> Result<MessageContent, ApiError> {
    match (kind, media_id) {
        (None | Some("text"), None) => Ok(MessageContent::Text(MessageBody::parse(body)?)),
        (Some("image"), Some(media_id)) => Ok(MessageContent::Image {
            media_id,
            caption: match body {
                "" => None,
                caption => Some(MessageBody::parse(caption)?),
            },
        }),
        (Some("image"), None) => Err(ApiError::invalid(
            "media_required",
            "an image message names its upload in media_id",
        )),
        _ => Err(ApiError::invalid(
            "bad_kind",
            "kind is text, or image with a media_id; system messages are Moim's",
        )),
    }
}

/// `POST /chat/rooms/{room_id}/messages`.
/// Answers the message exactly as the `message.sent` frame carries it.
pub async fn send_message(
    actor: Actor,
    Path(room_id): Path<Uuid>,
    Json(body): Json<SendMessage>,
) -> Result<Written<ChatMessage>, ApiError> {
    let content = content(body.kind.as_deref(), &body.body, body.media_id)?;
    let sent = actor
        .commands
        .send_message(room_id, actor.user_id, body.client_msg_id, content)
        .await?;
    Ok(Written::created(sent.message.into(), sent.position))
}

/// `GET /chat/rooms/{room_id}/messages?before=<seq>|after=<seq>&limit=<n>`: newest first, or
/// oldest first after `after` (how a client catches up). A former member reads up to their
/// leave; a joiner from their join.
pub async fn history(
    State(state): State<AppState>,
    AuthUser(user_id): AuthUser,
    Path(room_id): Path<Uuid>,
    Query(query): Query<HistoryQuery>,
    consistency: Option<Consistency>,
) -> Result<Json<Page>, ApiError> {
    let limit = page_limit(query.limit)?;
    let from = match (query.before, query.after) {
        (None, None) => HistoryFrom::Newest,
        (Some(before), None) if before >= 1 => HistoryFrom::Before(before),
        (None, Some(after)) if after >= 0 => HistoryFrom::After(after),
        _ => {
            return Err(ApiError::invalid(
                "bad_cursor",
                "give before (a seq of 1 or more) or after (0 or more), not both",
            ))
        }
    };
    let window = readable(&state, room_id, user_id).await?;
    state.caught_up(VIEW, consistency).await?;
    Ok(Json(
        projections::chat::history(&state.pool, room_id, window, from, limit).await?,
    ))
}

/// `PATCH /chat/rooms/{room_id}/messages/{seq}`: the author, within 24 hours.
pub async fn edit_message(
    actor: Actor,
    Path((room_id, seq)): Path<(Uuid, u64)>,
    Json(body): Json<EditMessage>,
) -> Result<Written<EditedMessage>, ApiError> {
    let text = MessageBody::parse(&body.body)?;
    let (edit, position) = actor
        .commands
        .edit_message(room_id, actor.user_id, seq, text)
        .await?;
    Ok(Written::ok(edit.into(), position))
}

/// `DELETE /chat/rooms/{room_id}/messages/{seq}`: the author, or a group's owner or admin.
/// Deleting a tombstone again changes nothing.
pub async fn delete_message(
    actor: Actor,
    Path((room_id, seq)): Path<(Uuid, u64)>,
) -> Result<Written<DeletedMessage>, ApiError> {
    let position = actor
        .commands
        .delete_message(room_id, actor.user_id, seq)
        .await?;
    let deleted = DeletedMessage {
        room_id,
        seq: seq_of(seq),
    };
    Ok(Written::ok(deleted, position))
}

/// `POST /chat/rooms/{room_id}/read`: moves the caller's read pointer forward (never back).
pub async fn mark_read(
    actor: Actor,
    Path(room_id): Path<Uuid>,
    Json(body): Json<MarkRead>,
) -> Result<Written<ReadPointer>, ApiError> {
    let (seq, position) = actor
        .commands
        .mark_read(room_id, actor.user_id, body.seq)
        .await?;
    let pointer = ReadPointer {
        room_id,
        user_id: actor.user_id,
        seq: seq_of(seq),
    };
    Ok(Written::ok(pointer, position))
}

/// `GET /chat/rooms/{room_id}/messages/search?q=&cursor=`.
pub async fn search_room(
    State(state): State<AppState>,
    AuthUser(user_id): AuthUser,
    Path(room_id): Path<Uuid>,
    Query(query): Query<SearchQuery>,
    consistency: Option<Consistency>,
) -> Result<Json<Hits>, ApiError> {
    let limit = page_limit(query.limit)?;
    let cursor = parse_cursor(query.cursor)?;
    let q = search_query(&query.q)?;
    let window = readable(&state, room_id, user_id).await?;
    state.caught_up(VIEW, consistency).await?;
    Ok(Json(
        chat_search::in_room(
            &state.pool,
            room_id,
            window,
            q,
            cursor,
            bounds(&state, limit),
        )
        .await?,
    ))
}

/// `GET /chat/search?q=&cursor=`: every room the caller is in, or was in until they left.
pub async fn search_all(
    State(state): State<AppState>,
    AuthUser(user_id): AuthUser,
    Query(query): Query<SearchQuery>,
    consistency: Option<Consistency>,
) -> Result<Json<Hits>, ApiError> {
    let limit = page_limit(query.limit)?;
    let cursor = parse_cursor(query.cursor)?;
    let q = search_query(&query.q)?;
    state.caught_up(VIEW, consistency).await?;
    Ok(Json(
        chat_search::everywhere(&state.pool, user_id, q, cursor, bounds(&state, limit)).await?,
    ))
}

/// Which seqs of a room the caller may read, decided by the room.
async fn readable(
    state: &AppState,
    room_id: Uuid,
    user_id: Uuid,
) -> Result<(u64, Option<u64>), ApiError> {
    state
        .commands
        .room_access(room_id, user_id)
        .await?
        .map(Access::window)
        .ok_or_else(room_not_found)
}

fn bounds(state: &AppState, limit: i64) -> chat_search::Bounds {
    chat_search::Bounds {
        limit,
        timeout: state.search_timeout,
    }
}

fn search_query(q: &str) -> Result<&str, ApiError> {
    chat_search::check_query(q).map_err(bad_query)
}

/// The answer to a query that cannot be searched for.
pub(super) fn bad_query(bad: BadQuery) -> ApiError {
    match bad {
        BadQuery::TooShort => ApiError::invalid(
            "query_too_short",
            "search for at least one word of two characters or more",
        ),
        BadQuery::TooLong => ApiError::invalid(
            "query_too_long",
            format!(
                "search for at most {} characters",
                chat_search::MAX_QUERY_CHARS
            ),
        ),
        BadQuery::Control => ApiError::invalid("bad_query", "a query holds no control characters"),
    }
}

/// A `cursor` we gave out, or none.
pub(super) fn parse_cursor(cursor: Option<String>) -> Result<Option<Cursor>, ApiError> {
    cursor
        .map(|c| c.parse::<Cursor>())
        .transpose()
        .map_err(|()| ApiError::invalid("bad_cursor", "cursor must be a next_cursor we gave"))
}

pub(super) fn room_not_found() -> ApiError {
    ApiError::not_found("room_not_found", "room not found")
}

fn left_room() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::FORBIDDEN,
        "left_room",
        "you are no longer a member of this room",
    )
}
