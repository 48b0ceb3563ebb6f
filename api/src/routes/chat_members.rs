//! Running a chat room: its name, who is in it and with which role, and the public rooms anyone
//! may find and join. The room aggregate decides who may do what.

use axum::extract::State;
use domain::chat::MemberRole;
use domain::values::RoomName;
use projections::chat::{PublicRoomPage, VIEW};
use projections::chat_search;
use projections::frames::{Problem, RoleChange};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::chat::{bad_query, parse_cursor, ROOM_ID};
use super::{page_limit, Written};
use crate::error::ApiError;
use crate::extract::{Actor, AuthUser, Consistency, Json, Path, Query};
use crate::state::AppState;

/// The `user_id` path parameter.
const MEMBER_ID: &str = "The member";

/// A room's new name.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameRoom {
    /// 1 to 100 characters, trimmed.
    #[schema(min_length = 1, max_length = 100)]
    name: String,
}

/// The room renamed.
#[derive(Serialize, ToSchema)]
pub struct RenamedRoom {
    /// The room.
    room_id: Uuid,
    /// Its name now.
    name: String,
}

/// People to add.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMembers {
    /// Registered users who do not block the caller (at most 5000; those in the room already
    /// change nothing).
    #[schema(max_items = 5000)]
    user_ids: Vec<Uuid>,
}

/// Who is in a room, or out of it, after a change.
#[derive(Serialize, ToSchema)]
pub struct RoomMembership {
    /// The room.
    room_id: Uuid,
    /// Who the change was about.
    user_ids: Vec<Uuid>,
    /// Whether they are in it now.
    member: bool,
}

/// A member's new role.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetMemberRole {
    /// `owner` hands the room over (the owner becomes an admin).
    role: MemberRole,
}

/// A search of the public rooms.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PublicQuery {
    /// Part of a room's name, any case (at most 100 characters, no control characters; blank:
    /// every public room).
    #[param(max_length = 100)]
    query: Option<String>,
    /// The `next_cursor` of the page before.
    cursor: Option<String>,
    /// Rooms per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// `PATCH /chat/rooms/{room_id}` `{name}`: owner or admin.
#[utoipa::path(
    patch,
    path = "/chat/rooms/{room_id}",
    operation_id = "rename_room",
    tag = "chat",
    summary = "Rename a room (its owner or an admin)",
    params(("room_id" = Uuid, Path, description = ROOM_ID)),
    request_body = RenameRoom,
    responses(
        (status = 200, description = "Renamed", body = Written<RenamedRoom>),
        (status = 403, description = "`left_room`; `not_allowed`: not the owner or an admin", body = Problem),
        (status = 404, description = "`room_not_found`: no such room, or the caller was never in it", body = Problem),
        (status = 409, description = "`club_room`: a club's room follows the club; `room_read_only`", body = Problem),
        (status = 422, description = "`invalid_value`: a bad name; `direct_room`: direct and couple rooms are not renamed", body = Problem),
        (status = 429, description = "`rate_limited`: the caller's commands per minute used up", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn rename(
    actor: Actor,
    Path(room_id): Path<Uuid>,
    Json(body): Json<RenameRoom>,
) -> Result<Written<RenamedRoom>, ApiError> {
    let name = RoomName::parse(&body.name)?;
    let out = RenamedRoom {
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
#[utoipa::path(
    post,
    path = "/chat/rooms/{room_id}/members",
    operation_id = "add_room_members",
    tag = "chat",
    summary = "Add people to a group or public room (its owner or an admin)",
    params(("room_id" = Uuid, Path, description = ROOM_ID)),
    request_body = AddMembers,
    responses(
        (status = 200, description = "They are in it", body = Written<RoomMembership>),
        (status = 403, description = "`left_room`; `not_allowed`: not the owner or an admin; `blocked`: someone named blocks the caller", body = Problem),
        (status = 404, description = "`room_not_found`: no such room, or the caller was never in it", body = Problem),
        (status = 409, description = "`club_room`: a club's room follows the club; `room_read_only`", body = Problem),
        (status = 422, description = "`direct_room`: direct and couple rooms do not grow; `unknown_member`: no such user; `too_many_members`", body = Problem),
        (status = 429, description = "`rate_limited`: the caller's commands per minute used up", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn add(
    actor: Actor,
    Path(room_id): Path<Uuid>,
    Json(body): Json<AddMembers>,
) -> Result<Written<RoomMembership>, ApiError> {
    let position = actor
        .commands
        .add_members(room_id, actor.user_id, body.user_ids.clone())
        .await?;
    let out = RoomMembership {
        room_id,
        user_ids: body.user_ids,
        member: true,
    };
    Ok(Written::ok(out, position))
}

/// `DELETE /chat/rooms/{room_id}/members/{user_id}`: oneself (leave) or, for an owner or
/// admin, someone else (kick).
#[utoipa::path(
    delete,
    path = "/chat/rooms/{room_id}/members/{user_id}",
    operation_id = "remove_room_member",
    tag = "chat",
    summary = "Leave a room (oneself) or remove someone (its owner, or an admin removing a member)",
    description = "An owner who leaves hands the room to whoever has been in it longest.",
    params(
        ("room_id" = Uuid, Path, description = ROOM_ID),
        ("user_id" = Uuid, Path, description = MEMBER_ID),
    ),
    responses(
        (status = 200, description = "They are out of it", body = Written<RoomMembership>),
        (status = 403, description = "`left_room`; `not_allowed`: an admin removing the owner or an admin, or a member removing someone", body = Problem),
        (status = 404, description = "`room_not_found`: no such room, or the caller was never in it; `member_not_found`", body = Problem),
        (status = 409, description = "`club_room`: a club's room follows the club; `room_read_only`: removing someone from a dissolved couple's room", body = Problem),
        (status = 422, description = "`direct_room`: nobody is removed from a direct or couple room but by leaving", body = Problem),
        (status = 429, description = "`rate_limited`: the caller's commands per minute used up", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn remove(
    actor: Actor,
    Path((room_id, user_id)): Path<(Uuid, Uuid)>,
) -> Result<Written<RoomMembership>, ApiError> {
    let position = actor
        .commands
        .remove_member(room_id, actor.user_id, user_id)
        .await?;
    let out = RoomMembership {
        room_id,
        user_ids: vec![user_id],
        member: false,
    };
    Ok(Written::ok(out, position))
}

/// `PATCH /chat/rooms/{room_id}/members/{user_id}` `{role}`: the owner; `owner` hands over.
#[utoipa::path(
    patch,
    path = "/chat/rooms/{room_id}/members/{user_id}",
    operation_id = "set_room_member_role",
    tag = "chat",
    summary = "Give a member a role (the owner); `owner` hands the room over",
    params(
        ("room_id" = Uuid, Path, description = ROOM_ID),
        ("user_id" = Uuid, Path, description = MEMBER_ID),
    ),
    request_body = SetMemberRole,
    responses(
        (status = 200, description = "The member's role now", body = Written<RoleChange>),
        (status = 403, description = "`left_room`; `not_allowed`: not the owner", body = Problem),
        (status = 404, description = "`room_not_found`: no such room, or the caller was never in it; `member_not_found`", body = Problem),
        (status = 409, description = "`club_room`: a club's room follows the club; `room_read_only`", body = Problem),
        (status = 422, description = "`direct_room`: direct and couple rooms have no roles to give; `bad_role_change`: the owner's own role", body = Problem),
        (status = 429, description = "`rate_limited`: the caller's commands per minute used up", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn set_role(
    actor: Actor,
    Path((room_id, user_id)): Path<(Uuid, Uuid)>,
    Json(body): Json<SetMemberRole>,
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
#[utoipa::path(
    post,
    path = "/chat/rooms/{room_id}/join",
    operation_id = "join_room",
    tag = "chat",
    summary = "Join a public room (or come back to a direct or couple room one left)",
    params(("room_id" = Uuid, Path, description = ROOM_ID)),
    responses(
        (status = 200, description = "The caller is in it (a member already changes nothing)", body = Written<RoomMembership>),
        (status = 403, description = "`blocked`: the other person of a direct room blocks the caller", body = Problem),
        (status = 404, description = "`room_not_found`: no such room, or one the caller may not join", body = Problem),
        (status = 409, description = "`room_read_only`: a dissolved couple's room", body = Problem),
        (status = 422, description = "`too_many_members`", body = Problem),
        (status = 429, description = "`rate_limited`: the caller's commands per minute used up", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn join(
    actor: Actor,
    Path(room_id): Path<Uuid>,
) -> Result<Written<RoomMembership>, ApiError> {
    let position = actor.commands.join_room(room_id, actor.user_id).await?;
    let out = RoomMembership {
        room_id,
        user_ids: vec![actor.user_id],
        member: true,
    };
    Ok(Written::ok(out, position))
}

/// `GET /chat/rooms/public?query=&cursor=`: public rooms, newest first, by part of their name.
#[utoipa::path(
    get,
    path = "/chat/rooms/public",
    operation_id = "list_public_rooms",
    tag = "chat",
    summary = "Public rooms, newest first, by part of their name",
    params(PublicQuery, Consistency),
    responses(
        (status = 200, description = "A page of public rooms", body = PublicRoomPage),
        (status = 422, description = "`query_too_long`; `bad_query`: control characters; `bad_limit`; `bad_cursor`", body = Problem),
    ),
    security(("bearer" = [])),
)]
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
