//! The caller's own profile, and whom they block.

use axum::extract::State;
use chrono::{DateTime, Utc};
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
        registered_at: profile.map(|p| p.registered_at),
    }))
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
