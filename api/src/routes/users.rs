//! Profiles (the caller's own, and anyone's public one), the caller's password, and whom they
//! block.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use domain::values::{Bio, DisplayName, Password};
use projections::users::Blocked;
use projections::users::VIEW;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Written;
use crate::error::ApiError;
use crate::extract::{Actor, AuthUser, Caller, Consistency, Json, Path, Query};
use crate::state::AppState;

#[derive(Serialize)]
pub struct Me {
    user_id: Uuid,
    email: Option<String>,
    display_name: Option<String>,
    birthday: Option<NaiveDate>,
    bio: Option<String>,
    registered_at: Option<DateTime<Utc>>,
}

/// `GET /users/me`.
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileChange {
    display_name: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::nullable")]
    birthday: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "crate::extract::nullable")]
    bio: Option<Option<String>>,
    avatar_media_id: Option<Uuid>,
}

#[derive(Serialize)]
pub struct ProfileOut {
    user_id: Uuid,
    display_name: String,
    birthday: Option<NaiveDate>,
    bio: Option<String>,
}

/// `PATCH /users/me` `{display_name?, birthday?, bio?, avatar_media_id?}` (`null` forgets a
/// birthday or a bio).
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
    let (user, mut position) = actor
        .commands
        .update_profile(actor.user_id, display_name, body.birthday, bio)
        .await?;
    if let Some(media_id) = body.avatar_media_id {
        // One of the caller's own uploads only (`422 media_not_found` otherwise).
        position = position.max(actor.commands.set_avatar(actor.user_id, media_id).await?);
    }
    let out = ProfileOut {
        user_id: actor.user_id,
        display_name: user.display_name().to_owned(),
        birthday: user.birthday(),
        bio: user.bio().map(str::to_owned),
    };
    Ok(Written::ok(out, position))
}

#[derive(Serialize)]
pub struct PublicProfile {
    user_id: Uuid,
    display_name: String,
    bio: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    avatar_url: Option<String>,
}

/// `GET /users/{user_id}`: what anyone signed in may see of a user (never the e-mail).
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// `POST /users/me/password`: every other session of the caller ends.
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deletion {
    password: Option<String>,
}

/// `DELETE /users/me` `{password}`: the account is deleted — sessions ended, the e-mail free
/// again, and the user's name, bio and birthday erased from every read model and unreadable in
/// the event store (an account made through a social login has no password to give).
pub async fn delete(actor: Actor, Json(body): Json<Deletion>) -> Result<StatusCode, ApiError> {
    actor
        .commands
        .delete_account(actor.user_id, body.password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize)]
pub struct BlockState {
    user_id: Uuid,
    blocked: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlocksQuery {
    limit: Option<i64>,
}

#[derive(Serialize)]
pub struct Blocks {
    blocks: Vec<Blocked>,
}

/// `POST /users/me/blocks/{user_id}`: idempotent.
pub async fn block(actor: Actor, Path(other): Path<Uuid>) -> Result<Written<BlockState>, ApiError> {
    let position = actor.commands.block_user(actor.user_id, other).await?;
    let state = BlockState {
        user_id: other,
        blocked: true,
    };
    Ok(Written::ok(state, position))
}

/// `DELETE /users/me/blocks/{user_id}`: idempotent.
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
