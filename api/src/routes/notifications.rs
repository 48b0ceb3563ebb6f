//! The caller's notification feed.

use axum::extract::State;
use projections::notifications::{Notification, VIEW};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::{AuthUser, Consistency, Json, Query};
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    limit: Option<i64>,
}

#[derive(Serialize)]
pub struct Feed {
    notifications: Vec<Notification>,
}

/// `GET /notifications`: newest first.
pub async fn feed(
    State(state): State<AppState>,
    AuthUser(user_id): AuthUser,
    Query(query): Query<FeedQuery>,
    consistency: Option<Consistency>,
) -> Result<Json<Feed>, ApiError> {
    let limit = super::page_limit(query.limit)?;
    state.caught_up(VIEW, consistency).await?;
    Ok(Json(Feed {
        notifications: projections::notifications::feed(&state.pool, user_id, limit).await?,
    }))
}
