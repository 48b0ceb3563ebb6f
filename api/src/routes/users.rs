//! The caller's own profile.

use axum::extract::State;
use chrono::{DateTime, Utc};
use projections::users::VIEW;
use serde::Serialize;
use uuid::Uuid;

use crate::error::ApiError;
use crate::extract::{AuthUser, Consistency, Json};
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
