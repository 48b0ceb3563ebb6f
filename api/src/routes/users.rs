//! The caller's own profile (name and birthday), and whom they block.

use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use domain::values::DisplayName;
use projections::users::Blocked;
use projections::users::VIEW;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Written;
use crate::error::ApiError;
use crate::extract::{Actor, AuthUser, Consistency, Json, Path, Query};
use crate::state::AppState;

#[derive(Serialize)]
pub struct Me {
    user_id: Uuid,
    email: Option<String>,
    display_name: Option<String>,
    birthday: Option<NaiveDate>,
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
        registered_at: profile.map(|p| p.registered_at),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileChange {
    display_name: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::nullable")]
    birthday: Option<Option<NaiveDate>>,
}

#[derive(Serialize)]
pub struct ProfileOut {
    user_id: Uuid,
    display_name: String,
    birthday: Option<NaiveDate>,
}

/// `PATCH /users/me` `{display_name?, birthday?}` (`birthday: null` forgets it).
pub async fn update(
    actor: Actor,
    Json(body): Json<ProfileChange>,
) -> Result<Written<ProfileOut>, ApiError> {
    let display_name = body
        .display_name
        .as_deref()
        .map(DisplayName::parse)
        .transpose()?;
    let (user, position) = actor
        .commands
        .update_profile(actor.user_id, display_name, body.birthday)
        .await?;
    let out = ProfileOut {
        user_id: actor.user_id,
        display_name: user.display_name().to_owned(),
        birthday: user.birthday(),
    };
    Ok(Written::ok(out, position))
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
