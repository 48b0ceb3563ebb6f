//! Chat rooms and messages.

use axum::extract::State;
use domain::chat::RoomKind;
use domain::values::{MessageBody, RoomName};
use projections::chat::{HistoryFrom, Page, RoomCursor, RoomPage, VIEW};
use projections::frames::ChatMessage;
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
pub struct RoomCreated {
    room_id: Uuid,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    client_msg_id: Uuid,
    body: String,
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
pub struct RoomsQuery {
    cursor: Option<String>,
    limit: Option<i64>,
}

/// `POST /chat/rooms`.
pub async fn create_room(
    actor: Actor,
    Json(body): Json<CreateRoom>,
) -> Result<Written<RoomCreated>, ApiError> {
    let name = RoomName::parse(&body.name)?;
    let opened = actor
        .commands
        .create_room(actor.user_id, name, body.kind, body.member_ids)
        .await?;
    let out = RoomCreated {
        room_id: opened.room_id,
    };
    Ok(if opened.created {
        Written::created(out, opened.position)
    } else {
        Written::ok(out, opened.position)
    })
}

/// `GET /chat/rooms`: the caller's rooms.
pub async fn my_rooms(
    State(state): State<AppState>,
    AuthUser(user_id): AuthUser,
    Query(query): Query<RoomsQuery>,
    consistency: Option<Consistency>,
) -> Result<Json<RoomPage>, ApiError> {
    let limit = page_limit(query.limit)?;
    let cursor = query
        .cursor
        .map(|c| c.parse::<RoomCursor>())
        .transpose()
        .map_err(|()| ApiError::invalid("bad_cursor", "cursor must be a next_cursor we gave"))?;
    state.caught_up(VIEW, consistency).await?;
    Ok(Json(
        projections::chat::rooms_of(&state.pool, user_id, cursor, limit).await?,
    ))
}

/// `POST /chat/rooms/{room_id}/messages`.
/// Answers the message exactly as the `message.sent` frame carries it.
pub async fn send_message(
    actor: Actor,
    Path(room_id): Path<Uuid>,
    Json(body): Json<SendMessage>,
) -> Result<Written<ChatMessage>, ApiError> {
    let text = MessageBody::parse(&body.body)?;
    let sent = actor
        .commands
        .send_message(room_id, actor.user_id, body.client_msg_id, text)
        .await?;
    Ok(Written::created(sent.message.into(), sent.position))
}

/// `GET /chat/rooms/{room_id}/messages?before=<seq>|after=<seq>&limit=<n>`: newest first, or
/// oldest first after `after` (how a client catches up).
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
    if !state.commands.is_room_member(room_id, user_id).await? {
        return Err(ApiError::not_found("room_not_found", "room not found"));
    }
    state.caught_up(VIEW, consistency).await?;
    Ok(Json(
        projections::chat::history(&state.pool, room_id, from, limit).await?,
    ))
}
