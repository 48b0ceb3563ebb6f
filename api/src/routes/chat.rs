//! Chat rooms and messages: opening and listing rooms, sending, history, edits and deletions,
//! read pointers and search. Running a room (members, roles, names) is `chat_members`.

use axum::extract::State;
use domain::chat::{Access, MessageContent, RoomKind};
use domain::values::{MessageBody, RoomName};
use futures::StreamExt;
use projections::chat::{Cursor, HistoryFrom, Page, RoomDetails, RoomPage, VIEW};
use projections::chat_search::{self, BadQuery, Hits};
use projections::frames::{
    seq_of, ChatMessage, DeletedMessage, EditedMessage, Problem, ReadPointer,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{page_limit, Written};
use crate::error::ApiError;
use crate::extract::{Actor, AuthUser, Consistency, Json, Path, Query};
use crate::state::AppState;

/// The `room_id` path parameter.
pub(super) const ROOM_ID: &str = "The room";

/// A room to open.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRoom {
    /// Its name (1 to 100 characters, trimmed).
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    /// `direct` (the caller and exactly one other), `group` or `public`; `couple` and `club`
    /// rooms are opened by Moim and refused here (`bad_kind`).
    kind: RoomKind,
    /// Who else is in it: registered users who do not block the caller (at most 5000).
    #[serde(default)]
    #[schema(max_items = 5000)]
    member_ids: Vec<Uuid>,
}

/// The room opened.
#[derive(Serialize, ToSchema)]
pub struct OpenedRoom {
    /// The room.
    room_id: Uuid,
}

/// A message to send: text, or an image with an optional caption.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    /// The sender's own id for the message: a retry sends the same and gets the same message.
    client_msg_id: Uuid,
    /// The text (1 to 4000 characters, trimmed; newlines allowed), or an image's caption
    /// (may be empty).
    #[serde(default)]
    #[schema(max_length = 4000)]
    body: String,
    /// `text` (the default) or `image` (then `media_id` is required).
    kind: Option<String>,
    /// An image message's upload, the caller's own.
    media_id: Option<Uuid>,
}

/// A message's new text.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditMessage {
    /// 1 to 4000 characters, trimmed; newlines allowed.
    #[schema(min_length = 1, max_length = 4000)]
    body: String,
}

/// How far the caller has read.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkRead {
    /// Everything up to this seq is read (at most the room's last seq).
    seq: u64,
}

/// Where a page of history starts: `before` or `after`, not both.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Messages before this seq, newest first (1 or more).
    #[param(minimum = 1)]
    before: Option<i64>,
    /// Messages after this seq, oldest first (0 or more): how a client catches up.
    #[param(minimum = 0)]
    after: Option<i64>,
    /// Messages per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// A page of a list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// The `next_cursor` of the page before.
    cursor: Option<String>,
    /// Rows per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// A search.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// Words to find: at least one of two characters or more, at most 100 characters, no
    /// control characters.
    #[param(min_length = 2, max_length = 100)]
    q: String,
    /// The `next_cursor` of the page before.
    cursor: Option<String>,
    /// Messages per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// `POST /chat/rooms`: 201 with a new room, 200 with the pair's existing direct room.
#[utoipa::path(
    post,
    path = "/chat/rooms",
    operation_id = "create_room",
    tag = "chat",
    summary = "Open a room (a direct room with someone is opened once)",
    request_body = CreateRoom,
    responses(
        (status = 201, description = "Opened", body = Written<OpenedRoom>),
        (status = 200, description = "The pair's existing direct room (the caller is back in it if they had left)", body = Written<OpenedRoom>),
        (status = 403, description = "`blocked`: someone named blocks the caller", body = Problem),
        (status = 422, description = "`invalid_value`: a bad name; `bad_kind`: `couple` or `club`; `unknown_member`: no such user; `direct_room_size`: a direct room without exactly one other; `too_many_members`", body = Problem),
        (status = 429, description = "`rate_limited`: the caller's commands per minute used up", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn create_room(
    actor: Actor,
    Json(body): Json<CreateRoom>,
) -> Result<Written<OpenedRoom>, ApiError> {
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
    let out = OpenedRoom {
        room_id: opened.room_id,
    };
    Ok(if opened.created {
        Written::created(out, opened.position)
    } else {
        Written::ok(out, opened.position)
    })
}

/// `GET /chat/rooms`: the caller's rooms, most recently active first.
#[utoipa::path(
    get,
    path = "/chat/rooms",
    operation_id = "list_my_rooms",
    tag = "chat",
    summary = "The caller's rooms, most recently active first",
    params(PageQuery, Consistency),
    responses(
        (status = 200, description = "A page of rooms", body = RoomPage),
        (status = 422, description = "`bad_limit`; `bad_cursor`: not a `next_cursor` we gave", body = Problem),
    ),
    security(("bearer" = [])),
)]
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
#[utoipa::path(
    get,
    path = "/chat/rooms/{room_id}",
    operation_id = "get_room",
    tag = "chat",
    summary = "A room and its members, with their presence (members only)",
    params(("room_id" = Uuid, Path, description = ROOM_ID), Consistency),
    responses(
        (status = 200, description = "The room", body = RoomDetails),
        (status = 403, description = "`left_room`: the caller left it or was removed", body = Problem),
        (status = 404, description = "`room_not_found`: no such room, or the caller was never in it", body = Problem),
    ),
    security(("bearer" = [])),
)]
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
#[utoipa::path(
    post,
    path = "/chat/rooms/{room_id}/messages",
    operation_id = "send_message",
    tag = "chat",
    summary = "Send a message (a retry with the same client_msg_id answers the same message)",
    params(("room_id" = Uuid, Path, description = ROOM_ID)),
    request_body = SendMessage,
    responses(
        (status = 201, description = "Sent: the message as `message.sent` carries it", body = Written<ChatMessage>),
        (status = 403, description = "`left_room`", body = Problem),
        (status = 404, description = "`room_not_found`: no such room, or the caller was never in it", body = Problem),
        (status = 409, description = "`room_read_only`: a dissolved couple's room", body = Problem),
        (status = 422, description = "`invalid_value`: an empty, too long or control-character body; `bad_kind`: not `text` or `image`, or a `media_id` without `kind: image`; `media_required`; `media_not_found`: not the caller's upload", body = Problem),
        (status = 429, description = "`rate_limited`: the caller's commands per minute used up", body = Problem),
    ),
    security(("bearer" = [])),
)]
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
#[utoipa::path(
    get,
    path = "/chat/rooms/{room_id}/messages",
    operation_id = "list_messages",
    tag = "chat",
    summary = "A room's history: newest first, or oldest first after `after`",
    description = "A former member reads up to their leave; a member from their join.",
    params(("room_id" = Uuid, Path, description = ROOM_ID), HistoryQuery, Consistency),
    responses(
        (status = 200, description = "A page of messages", body = Page),
        (status = 404, description = "`room_not_found`: no such room, or the caller was never in it", body = Problem),
        (status = 422, description = "`bad_limit`; `bad_cursor`: both `before` and `after`, `before` below 1 or `after` below 0", body = Problem),
    ),
    security(("bearer" = [])),
)]
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
#[utoipa::path(
    patch,
    path = "/chat/rooms/{room_id}/messages/{seq}",
    operation_id = "edit_message",
    tag = "chat",
    summary = "Edit a message's text (its author, within 24 hours)",
    params(
        ("room_id" = Uuid, Path, description = ROOM_ID),
        ("seq" = u64, Path, description = "The message's seq in the room"),
    ),
    request_body = EditMessage,
    responses(
        (status = 200, description = "Edited", body = Written<EditedMessage>),
        (status = 403, description = "`left_room`; `not_your_message`; `edit_window_closed`: sent over 24 hours ago", body = Problem),
        (status = 404, description = "`room_not_found`: no such room, or the caller was never in it; `message_not_found`: no member's message has that seq", body = Problem),
        (status = 409, description = "`message_deleted`; `room_read_only`", body = Problem),
        (status = 422, description = "`invalid_value`: an empty, too long or control-character body", body = Problem),
        (status = 429, description = "`rate_limited`: the caller's commands per minute used up", body = Problem),
    ),
    security(("bearer" = [])),
)]
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
#[utoipa::path(
    delete,
    path = "/chat/rooms/{room_id}/messages/{seq}",
    operation_id = "delete_message",
    tag = "chat",
    summary = "Delete a message (its author, or a group's owner or admin)",
    description = "It becomes a tombstone; deleting a tombstone again changes nothing.",
    params(
        ("room_id" = Uuid, Path, description = ROOM_ID),
        ("seq" = u64, Path, description = "The message's seq in the room"),
    ),
    responses(
        (status = 200, description = "Deleted", body = Written<DeletedMessage>),
        (status = 403, description = "`left_room`; `not_your_message`", body = Problem),
        (status = 404, description = "`room_not_found`: no such room, or the caller was never in it; `message_not_found`: no member's message has that seq", body = Problem),
        (status = 409, description = "`room_read_only`", body = Problem),
        (status = 429, description = "`rate_limited`: the caller's commands per minute used up", body = Problem),
    ),
    security(("bearer" = [])),
)]
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
#[utoipa::path(
    post,
    path = "/chat/rooms/{room_id}/read",
    operation_id = "mark_room_read",
    tag = "chat",
    summary = "Move the caller's read pointer forward (never back)",
    params(("room_id" = Uuid, Path, description = ROOM_ID)),
    request_body = MarkRead,
    responses(
        (status = 200, description = "Where the caller's pointer stands now", body = Written<ReadPointer>),
        (status = 403, description = "`left_room`", body = Problem),
        (status = 404, description = "`room_not_found`: no such room, or the caller was never in it", body = Problem),
        (status = 422, description = "`bad_seq`: beyond the room's last message", body = Problem),
        (status = 429, description = "`rate_limited`: the caller's commands per minute used up", body = Problem),
    ),
    security(("bearer" = [])),
)]
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
#[utoipa::path(
    get,
    path = "/chat/rooms/{room_id}/messages/search",
    operation_id = "search_room_messages",
    tag = "chat",
    summary = "Search a room's messages, newest first",
    description = "A former member searches what they may read: up to their leave.",
    params(("room_id" = Uuid, Path, description = ROOM_ID), SearchQuery, Consistency),
    responses(
        (status = 200, description = "A page of hits", body = Hits),
        (status = 404, description = "`room_not_found`: no such room, or the caller was never in it", body = Problem),
        (status = 422, description = "`query_too_short`: no word of two characters or more; `query_too_long`; `bad_query`: control characters; `bad_limit`; `bad_cursor`", body = Problem),
    ),
    security(("bearer" = [])),
)]
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
#[utoipa::path(
    get,
    path = "/chat/search",
    operation_id = "search_all_messages",
    tag = "chat",
    summary = "Search the messages of every room the caller is or was in, newest first",
    params(SearchQuery, Consistency),
    responses(
        (status = 200, description = "A page of hits", body = Hits),
        (status = 422, description = "`query_too_short`: no word of two characters or more; `query_too_long`; `bad_query`: control characters; `bad_limit`; `bad_cursor`", body = Problem),
    ),
    security(("bearer" = [])),
)]
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
