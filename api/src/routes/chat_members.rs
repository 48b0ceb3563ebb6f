//! Running a chat room: its name, who is in it and with which role, and the public rooms anyone
//! may find and join. The room aggregate decides who may do what.

use axum::extract::State;
use domain::chat::MemberRole;
use domain::values::RoomName;
use projections::chat::{PublicRoomPage, VIEW};
use projections::chat_search;
use projections::frames::RoleChange;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::chat::{bad_query, parse_cursor};
use super::{page_limit, Written};
use crate::error::ApiError;
use crate::extract::{Actor, AuthUser, Consistency, Json, Path, Query};
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    name: String,
}

#[derive(Serialize)]
pub struct Renamed {
    room_id: Uuid,
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddMembers {
    user_ids: Vec<Uuid>,
}

#[derive(Serialize)]
pub struct Membership {
    room_id: Uuid,
    user_ids: Vec<Uuid>,
    member: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetRole {
    role: MemberRole,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicQuery {
    query: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
}

/// `PATCH /chat/rooms/{room_id}` `{name}`: owner or admin.
pub async fn rename(
    actor: Actor,
    Path(room_id): Path<Uuid>,
    Json(body): Json<Rename>,
) -> Result<Written<Renamed>, ApiError> {
    let name = RoomName::parse(&body.name)?;
    let out = Renamed {
        room_id,
        name: name.as_str().to_owned(),
    };
    let position = actor
        .commands
        .rename_room(room_id, actor.user_id, name)
        .await?;
    Ok(Written::ok(out, position))
}

/// `POST /chat/rooms/{room_id}/members` `{user_ids}`: owner or admin of a group or public room.
pub async fn add(
    actor: Actor,
    Path(room_id): Path<Uuid>,
    Json(body): Json<AddMembers>,
) -> Result<Written<Membership>, ApiError> {
    let position = actor
        .commands
        .add_members(room_id, actor.user_id, body.user_ids.clone())
        .await?;
    let out = Membership {
        room_id,
        user_ids: body.user_ids,
        member: true,
    };
    Ok(Written::ok(out, position))
}

/// `DELETE /chat/rooms/{room_id}/members/{user_id}`: oneself (leave) or, for an owner or
/// admin, someone else (kick).
pub async fn remove(
    actor: Actor,
    Path((room_id, user_id)): Path<(Uuid, Uuid)>,
) -> Result<Written<Membership>, ApiError> {
    let position = actor
        .commands
        .remove_member(room_id, actor.user_id, user_id)
        .await?;
    let out = Membership {
        room_id,
        user_ids: vec![user_id],
        member: false,
    };
    Ok(Written::ok(out, position))
}

/// `PATCH /chat/rooms/{room_id}/members/{user_id}` `{role}`: the owner; `owner` hands over.
pub async fn set_role(
    actor: Actor,
    Path((room_id, user_id)): Path<(Uuid, Uuid)>,
    Json(body): Json<SetRole>,
) -> Result<Written<RoleChange>, ApiError> {
    let position = actor
        .commands
        .set_member_role(room_id, actor.user_id, user_id, body.role)
        .await?;
    let out = RoleChange {
        room_id,
        user_id,
        role: body.role,
    };
    Ok(Written::ok(out, position))
}

/// `POST /chat/rooms/{room_id}/join`: anyone, into a public room (other rooms: 404).
pub async fn join(
    actor: Actor,
    Path(room_id): Path<Uuid>,
) -> Result<Written<Membership>, ApiError> {
    let position = actor.commands.join_room(room_id, actor.user_id).await?;
    let out = Membership {
        room_id,
        user_ids: vec![actor.user_id],
        member: true,
    };
    Ok(Written::ok(out, position))
}

/// `GET /chat/rooms/public?query=&cursor=`: public rooms, newest first, by part of their name.
pub async fn public(
    State(state): State<AppState>,
    AuthUser(_): AuthUser,
    Query(query): Query<PublicQuery>,
    consistency: Option<Consistency>,
) -> Result<Json<PublicRoomPage>, ApiError> {
    let limit = page_limit(query.limit)?;
    let cursor = parse_cursor(query.cursor)?;
    let name = query
        .query
        .as_deref()
        .map(chat_search::check_text)
        .transpose()
        .map_err(bad_query)?
        .filter(|q| !q.is_empty());
    state.caught_up(VIEW, consistency).await?;
    Ok(Json(
        projections::chat::public_rooms(&state.pool, name, cursor, limit).await?,
    ))
}
