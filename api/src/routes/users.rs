//! Profiles (the caller's own, and anyone's public one), the caller's password, and whom they
//! block.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use domain::values::{Bio, DisplayName, Password};
use projections::frames::Problem;
use projections::users::Blocked;
use projections::users::VIEW;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::Written;
use crate::error::ApiError;
use crate::extract::{Actor, AuthUser, Caller, Consistency, Json, Path, Query};
use crate::state::AppState;

/// The caller's own profile (the profile's fields are null until the users view has it).
#[derive(Serialize, ToSchema)]
pub struct Me {
    /// The caller.
    user_id: Uuid,
    /// Their login e-mail (none for an account made through a social login).
    email: Option<String>,
    /// How others see them.
    display_name: Option<String>,
    /// Their birthday, if they told it.
    birthday: Option<NaiveDate>,
    /// What they say about themself.
    bio: Option<String>,
    /// When they signed up.
    registered_at: Option<DateTime<Utc>>,
}

/// `GET /users/me`.
#[utoipa::path(
    get,
    path = "/users/me",
    operation_id = "get_my_profile",
    tag = "users",
    summary = "The caller's own profile, e-mail included",
    params(Consistency),
    responses(
        (status = 200, description = "The caller's profile", body = Me),
        (status = 503, description = "`not_caught_up`: the users view has not reached the consistency token yet", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn me(
    State(state): State<AppState>,
    AuthUser(user_id): AuthUser,
    consistency: Option<Consistency>,
) -> Result<Json<Me>, ApiError> {
    state.caught_up(VIEW, consistency).await?;
    let email = state.commands.email_of(user_id).await?;
    let profile = projections::users::profile(&state.pool, user_id).await?;
    Ok(Json(Me {
        user_id,
        email,
        display_name: profile.as_ref().map(|p| p.display_name.clone()),
        birthday: profile.as_ref().and_then(|p| p.birthday),
        bio: profile.as_ref().and_then(|p| p.bio.clone()),
        registered_at: profile.map(|p| p.registered_at),
    }))
}

/// What to change on the caller's profile; what is absent stays.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileChange {
    /// A new display name (1 to 50 characters, trimmed; null: unchanged).
    #[schema(min_length = 1, max_length = 50)]
    display_name: Option<String>,
    /// A new birthday; `null` forgets it.
    #[serde(default, deserialize_with = "crate::extract::nullable_in_calendar")]
    #[schema(value_type = Option<NaiveDate>)]
    birthday: Option<Option<NaiveDate>>,
    /// A new bio (1 to 500 characters, trimmed, newlines allowed); `null` forgets it.
    #[serde(default, deserialize_with = "crate::extract::nullable")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 500)]
    bio: Option<Option<String>>,
    /// One of the caller's uploads, as their profile picture (null: unchanged).
    avatar_media_id: Option<Uuid>,
}

/// The caller's profile after a change.
#[derive(Serialize, ToSchema)]
pub struct ProfileOut {
    /// The caller.
    user_id: Uuid,
    /// How others see them.
    display_name: String,
    /// Their birthday, if they told it.
    birthday: Option<NaiveDate>,
    /// What they say about themself.
    bio: Option<String>,
}

/// `PATCH /users/me` `{display_name?, birthday?, bio?, avatar_media_id?}` (`null` forgets a
/// birthday or a bio).
#[utoipa::path(
    patch,
    path = "/users/me",
    operation_id = "update_my_profile",
    tag = "users",
    summary = "Change the caller's profile",
    request_body = ProfileChange,
    responses(
        (status = 200, description = "Changed (or already so)", body = Written<ProfileOut>),
        (status = 404, description = "`user_not_found`: the account was just deleted", body = Problem),
        (status = 422, description = "`invalid_value`: a display name or bio that breaks its rules; `media_not_found`: `avatar_media_id` is not one of the caller's uploads (the rest of the change is made)", body = Problem),
        (status = 429, description = "`rate_limited`: the caller's commands per minute used up", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn update(
    actor: Actor,
    Json(body): Json<ProfileChange>,
) -> Result<Written<ProfileOut>, ApiError> {
    let display_name = body
        .display_name
        .as_deref()
        .map(DisplayName::parse)
        .transpose()?;
    let bio = match body.bio {
        Some(Some(bio)) => Some(Some(Bio::parse(&bio)?)),
        Some(None) => Some(None),
        None => None,
    };
    // The picture first: it is what may be refused (one of the caller's own uploads only,
    // `422 media_not_found` otherwise), and then nothing of the request is written.
    let avatar_position = match body.avatar_media_id {
        Some(media_id) => Some(actor.commands.set_avatar(actor.user_id, media_id).await?),
        None => None,
    };
    let (user, position) = actor
        .commands
        .update_profile(actor.user_id, display_name, body.birthday, bio)
        .await?;
    let position = avatar_position.map_or(position, |p| p.max(position));
    let out = ProfileOut {
        user_id: actor.user_id,
        display_name: user.display_name().to_owned(),
        birthday: user.birthday(),
        bio: user.bio().map(str::to_owned),
    };
    Ok(Written::ok(out, position))
}

/// What anyone signed in may see of a user.
#[derive(Serialize, ToSchema)]
pub struct PublicProfile {
    /// The user.
    user_id: Uuid,
    /// How others see them.
    display_name: String,
    /// What they say about themself.
    bio: Option<String>,
    /// A signed address of their profile picture (its thumbnail when it has one); absent when
    /// they have none.
    #[serde(skip_serializing_if = "Option::is_none")]
    avatar_url: Option<String>,
}

/// `GET /users/{user_id}`: what anyone signed in may see of a user (never the e-mail).
#[utoipa::path(
    get,
    path = "/users/{user_id}",
    operation_id = "get_user_profile",
    tag = "users",
    summary = "A user's public profile",
    params(("user_id" = Uuid, Path, description = "The user"), Consistency),
    responses(
        (status = 200, description = "The profile", body = PublicProfile),
        (status = 404, description = "`user_not_found`", body = Problem),
        (status = 503, description = "`not_caught_up`: the users or media view has not reached the consistency token yet", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn show(
    State(state): State<AppState>,
    AuthUser(_): AuthUser,
    Path(user_id): Path<Uuid>,
    consistency: Option<Consistency>,
) -> Result<Json<PublicProfile>, ApiError> {
    state.caught_up(VIEW, consistency).await?;
    state
        .caught_up(projections::media::VIEW, consistency)
        .await?;
    let profile = projections::users::profile(&state.pool, user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("user_not_found", "no such user"))?;
    let avatar_url = match projections::media::avatar_of(&state.pool, user_id).await? {
        Some(media_id) => match state.commands.media(media_id).await?.current() {
            Some(upload) => {
                let links = super::media::links(&state, upload)?;
                Some(links.thumbnail_url.unwrap_or(links.url))
            }
            None => None,
        },
        None => None,
    };
    Ok(Json(PublicProfile {
        user_id,
        display_name: profile.display_name,
        bio: profile.bio,
        avatar_url,
    }))
}

/// A new password, and the current one that allows it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The password now.
    current_password: String,
    /// The new one: 8 to 128 characters.
    #[schema(min_length = 8, max_length = 128)]
    new_password: String,
}

/// `POST /users/me/password`: every other session of the caller ends.
#[utoipa::path(
    post,
    path = "/users/me/password",
    operation_id = "change_password",
    tag = "users",
    summary = "Change the caller's password (every other session ends)",
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed; every other session of the caller has ended"),
        (status = 403, description = "`wrong_password`: the current password is not right", body = Problem),
        (status = 404, description = "`user_not_found`: also for an account made through a social login, which has no password", body = Problem),
        (status = 422, description = "`invalid_value`: the new password is not 8 to 128 characters", body = Problem),
        (status = 429, description = "`rate_limited`: the caller's commands per minute used up", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn change_password(
    Caller(access): Caller,
    actor: Actor,
    Json(body): Json<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    let new = Password::parse(&body.new_password)?;
    actor
        .commands
        .change_password(
            access.user_id,
            access.session_id,
            body.current_password,
            new,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The password that allows deleting the account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Deletion {
    /// The caller's password (none for an account made through a social login).
    password: Option<String>,
}

/// `DELETE /users/me` `{password}`: the account is deleted — sessions ended, the e-mail free
/// again, and the user's name, bio and birthday erased from every read model and unreadable in
/// the event store (an account made through a social login has no password to give).
#[utoipa::path(
    delete,
    path = "/users/me",
    operation_id = "delete_my_account",
    tag = "users",
    summary = "Delete the caller's account",
    request_body = Deletion,
    responses(
        (status = 204, description = "Deleted: every session has ended, the e-mail is free again, and the name, bio and birthday are erased"),
        (status = 403, description = "`wrong_password`", body = Problem),
        (status = 404, description = "`user_not_found`: deleted already", body = Problem),
        (status = 429, description = "`rate_limited`: the caller's commands per minute used up", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn delete(actor: Actor, Json(body): Json<Deletion>) -> Result<StatusCode, ApiError> {
    actor
        .commands
        .delete_account(actor.user_id, body.password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether the caller blocks a user, after a change.
#[derive(Serialize, ToSchema)]
pub struct BlockState {
    /// The user.
    user_id: Uuid,
    /// Whether the caller blocks them now.
    blocked: bool,
}

/// How many blocks to list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BlocksQuery {
    /// At most this many, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// Whom the caller blocks.
#[derive(Serialize, ToSchema)]
pub struct Blocks {
    /// Most recent first.
    blocks: Vec<Blocked>,
}

/// `POST /users/me/blocks/{user_id}`: idempotent.
#[utoipa::path(
    post,
    path = "/users/me/blocks/{user_id}",
    operation_id = "block_user",
    tag = "users",
    summary = "Block a user (idempotent)",
    params(("user_id" = Uuid, Path, description = "Whom to block")),
    responses(
        (status = 200, description = "Blocked (or already so)", body = Written<BlockState>),
        (status = 404, description = "`user_not_found`: no such user (or the caller's account was just deleted)", body = Problem),
        (status = 422, description = "`self_block`", body = Problem),
        (status = 429, description = "`rate_limited`: the caller's commands per minute used up", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn block(actor: Actor, Path(other): Path<Uuid>) -> Result<Written<BlockState>, ApiError> {
    let position = actor.commands.block_user(actor.user_id, other).await?;
    let state = BlockState {
        user_id: other,
        blocked: true,
    };
    Ok(Written::ok(state, position))
}

/// `DELETE /users/me/blocks/{user_id}`: idempotent.
#[utoipa::path(
    delete,
    path = "/users/me/blocks/{user_id}",
    operation_id = "unblock_user",
    tag = "users",
    summary = "Lift a block (idempotent)",
    params(("user_id" = Uuid, Path, description = "Whom to unblock")),
    responses(
        (status = 200, description = "Not blocked (any more)", body = Written<BlockState>),
        (status = 404, description = "`user_not_found`: the caller's account was just deleted", body = Problem),
        (status = 429, description = "`rate_limited`: the caller's commands per minute used up", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn unblock(
    actor: Actor,
    Path(other): Path<Uuid>,
) -> Result<Written<BlockState>, ApiError> {
    let position = actor.commands.unblock_user(actor.user_id, other).await?;
    let state = BlockState {
        user_id: other,
        blocked: false,
    };
    Ok(Written::ok(state, position))
}

/// `GET /users/me/blocks`: whom the caller blocks, most recent first.
#[utoipa::path(
    get,
    path = "/users/me/blocks",
    operation_id = "list_my_blocks",
    tag = "users",
    summary = "Whom the caller blocks, most recent first",
    params(BlocksQuery, Consistency),
    responses(
        (status = 200, description = "The blocks", body = Blocks),
        (status = 422, description = "`bad_limit`", body = Problem),
        (status = 503, description = "`not_caught_up`: the users view has not reached the consistency token yet", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn blocks(
    State(state): State<AppState>,
    AuthUser(user_id): AuthUser,
    Query(query): Query<BlocksQuery>,
    consistency: Option<Consistency>,
) -> Result<Json<Blocks>, ApiError> {
    let limit = super::page_limit(query.limit)?;
    state.caught_up(VIEW, consistency).await?;
    Ok(Json(Blocks {
        blocks: projections::users::blocks_of(&state.pool, user_id, limit).await?,
    }))
}
