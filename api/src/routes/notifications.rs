//! The caller's notification feed: its pages, its unread count, and reading it.

use axum::extract::State;
use domain::Position;
use projections::frames::FeedEntry;
use projections::notifications::VIEW;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Written;
use crate::error::ApiError;
use crate::extract::{Actor, AuthUser, Consistency, Json, Path, Query};
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    unread: Option<bool>,
    cursor: Option<String>,
    limit: Option<i64>,
}

#[derive(Serialize)]
pub struct Feed {
    notifications: Vec<FeedEntry>,
    /// The `cursor` of the next (older) page, if there may be one.
    next_cursor: Option<String>,
}

#[derive(Serialize)]
pub struct Unread {
    unread: i64,
}

#[derive(Serialize)]
pub struct Read {
    notification_id: Uuid,
    read: bool,
}

#[derive(Serialize)]
pub struct ReadAll {
    /// The cursor of the newest entry now read, if the feed holds any.
    through: Option<String>,
}

/// `GET /notifications?unread=&cursor=&limit=`: newest first.
pub async fn feed(
    State(state): State<AppState>,
    AuthUser(user_id): AuthUser,
    Query(query): Query<FeedQuery>,
    consistency: Option<Consistency>,
) -> Result<Json<Feed>, ApiError> {
    let limit = super::page_limit(query.limit)?;
    let before = query
        .cursor
        .map(|c| c.parse::<Position>())
        .transpose()
        .map_err(|_| ApiError::invalid("bad_cursor", "cursor must be a next_cursor we gave"))?;
    state.caught_up(VIEW, consistency).await?;
    let notifications = projections::notifications::feed(
        &state.pool,
        user_id,
        query.unread.unwrap_or(false),
        before,
        limit,
    )
    .await?;
    let next_cursor = super::next_cursor(&notifications, limit, |n| n.cursor.clone());
    Ok(Json(Feed {
        notifications,
        next_cursor,
    }))
}

/// `GET /notifications/unread-count`.
pub async fn unread_count(
    State(state): State<AppState>,
    AuthUser(user_id): AuthUser,
    consistency: Option<Consistency>,
) -> Result<Json<Unread>, ApiError> {
    state.caught_up(VIEW, consistency).await?;
    Ok(Json(Unread {
        unread: projections::notifications::unread(&state.pool, user_id).await?,
    }))
}

/// `POST /notifications/{id}/read`: one of the caller's entries; another's is 404.
pub async fn read(
    State(state): State<AppState>,
    actor: Actor,
    Path(notification_id): Path<Uuid>,
    consistency: Option<Consistency>,
) -> Result<Written<Read>, ApiError> {
    state.caught_up(VIEW, consistency).await?;
    let at = projections::notifications::entry_at(&state.pool, actor.user_id, notification_id)
        .await?
        .ok_or_else(|| ApiError::not_found("notification_not_found", "notification not found"))?;
    let position = actor
        .commands
        .read_notification(actor.user_id, notification_id, at)
        .await?;
    Ok(Written::ok(
        Read {
            notification_id,
            read: true,
        },
        position,
    ))
}

/// `POST /notifications/read-all`: every entry the caller's feed holds now.
pub async fn read_all(
    State(state): State<AppState>,
    actor: Actor,
    consistency: Option<Consistency>,
) -> Result<Written<ReadAll>, ApiError> {
    state.caught_up(VIEW, consistency).await?;
    let newest = projections::notifications::newest(&state.pool, actor.user_id).await?;
    let position = actor
        .commands
        .read_notifications_through(actor.user_id, newest.unwrap_or(Position::START))
        .await?;
    Ok(Written::ok(
        ReadAll {
            through: newest.map(|p| p.to_string()),
        },
        position,
    ))
}
