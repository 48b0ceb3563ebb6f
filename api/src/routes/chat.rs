//! Chat rooms and messages.

use axum::extract::State;
use chrono::{DateTime, Utc};
use domain::chat::{ChatRoom, RoomKind};
use domain::values::{MessageBody, RoomName};
use projections::chat::{Page, Room};
use projections::View;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Written;
use crate::error::ApiError;
use crate::extract::{AuthUser, Consistency, Json, Path, Query};
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

#[derive(Serialize)]
pub struct MessageOut {
    message_id: Uuid,
    room_id: Uuid,
    seq: u64,
    sender_id: Uuid,
    body: String,
    sent_at: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    before: Option<i64>,
    limit: Option<i64>,
}

#[derive(Serialize)]
pub struct Rooms {
    rooms: Vec<Room>,
}

/// `POST /chat/rooms`.
pub async fn create_room(
    State(state): State<AppState>,
    AuthUser(user_id): AuthUser,
    Json(body): Json<CreateRoom>,
) -> Result<Written<RoomCreated>, ApiError> {
    let name = RoomName::parse(&body.name)?;
    let (room_id, position) = state
        .commands
        .create_room(user_id, name, body.kind, body.member_ids)
        .await?;
    Ok(Written::created(RoomCreated { room_id }, position))
}

/// `GET /chat/rooms`: the caller's rooms.
pub async fn my_rooms(
    State(state): State<AppState>,
    AuthUser(user_id): AuthUser,
    consistency: Option<Consistency>,
) -> Result<Json<Rooms>, ApiError> {
    state.caught_up(View::Chat, consistency).await?;
    Ok(Json(Rooms {
        rooms: projections::chat::rooms_of(&state.pool, user_id).await?,
    }))
}

/// `POST /chat/rooms/{room_id}/messages`.
pub async fn send_message(
    State(state): State<AppState>,
    AuthUser(user_id): AuthUser,
    Path(room_id): Path<Uuid>,
    Json(body): Json<SendMessage>,
) -> Result<Written<MessageOut>, ApiError> {
    let text = MessageBody::parse(&body.body)?;
    let sent = state
        .commands
        .send_message(room_id, user_id, body.client_msg_id, text)
        .await?;
    let out = MessageOut {
        message_id: sent.message_id,
        room_id: sent.room_id,
        seq: sent.seq,
        sender_id: sent.sender_id,
        body: sent.body,
        sent_at: sent.sent_at,
    };
    Ok(Written::created(out, sent.position))
}

/// `GET /chat/rooms/{room_id}/messages?before=<seq>&limit=<n>`: newest first.
pub async fn history(
    State(state): State<AppState>,
    AuthUser(user_id): AuthUser,
    Path(room_id): Path<Uuid>,
    Query(query): Query<HistoryQuery>,
    consistency: Option<Consistency>,
) -> Result<Json<Page>, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid("bad_limit", "limit must be 1 to 200"));
    }
    if query.before.is_some_and(|b| b < 1) {
        return Err(ApiError::invalid(
            "bad_cursor",
            "before must be a seq of 1 or more",
        ));
    }
    // Membership is checked on the room itself, never on a view that may lag behind.
    let room = state
        .commands
        .store()
        .load::<ChatRoom>(&room_id.to_string())
        .await?;
    if !room.aggregate.is_member(user_id) {
        return Err(ApiError::not_found("room_not_found", "room not found"));
    }
    state.caught_up(View::Chat, consistency).await?;
    Ok(Json(
        projections::chat::history(&state.pool, room_id, query.before, limit).await?,
    ))
}
