//! The caller's notification feed: its pages, its unread count, and reading it.

use axum::extract::State;
use domain::Position;
use projections::frames::{FeedEntry, Problem};
use projections::notifications::VIEW;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::Written;
use crate::error::ApiError;
use crate::extract::{Actor, AuthUser, Consistency, Json, Path, Query};
use crate::state::AppState;

/// Which entries, and the page.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// Only unread entries (default false).
    unread: Option<bool>,
    /// The `next_cursor` of the page before.
    #[param(pattern = r"^[0-9]+\.[0-9]+$")]
    cursor: Option<String>,
    /// Entries per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// A page of the caller's notifications.
#[derive(Serialize, ToSchema)]
pub struct NotificationFeed {
    /// Newest first.
    notifications: Vec<FeedEntry>,
    /// The `cursor` of the next (older) page, if there may be one.
    next_cursor: Option<String>,
}

/// How many of the caller's notifications are unread.
#[derive(Serialize, ToSchema)]
pub struct UnreadCount {
    /// Unread entries.
    unread: i64,
}

/// A notification read.
#[derive(Serialize, ToSchema)]
pub struct NotificationRead {
    /// The entry.
    notification_id: Uuid,
    /// Always `true`.
    read: bool,
}

/// Every notification read, up to the newest.
#[derive(Serialize, ToSchema)]
pub struct NotificationsRead {
    /// The cursor of the newest entry now read, if the feed holds any.
    through: Option<String>,
}

/// `GET /notifications?unread=&cursor=&limit=`: newest first.
#[utoipa::path(
    get,
    path = "/notifications",
    operation_id = "list_notifications",
    tag = "notifications",
    summary = "The caller's notifications, newest first",
    params(FeedQuery, Consistency),
    responses(
        (status = 200, description = "A page of notifications", body = NotificationFeed),
        (status = 422, description = "`bad_cursor`: not a `next_cursor` Moim gave; `bad_limit`", body = Problem),
        (status = 503, description = "`not_caught_up`: the notifications view has not reached the consistency token yet", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn feed(
    State(state): State<AppState>,
    AuthUser(user_id): AuthUser,
    Query(query): Query<FeedQuery>,
    consistency: Option<Consistency>,
) -> Result<Json<NotificationFeed>, ApiError> {
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
    Ok(Json(NotificationFeed {
        notifications,
        next_cursor,
    }))
}

/// `GET /notifications/unread-count`.
#[utoipa::path(
    get,
    path = "/notifications/unread-count",
    operation_id = "count_unread_notifications",
    tag = "notifications",
    summary = "How many of the caller's notifications are unread",
    params(Consistency),
    responses(
        (status = 200, description = "The count", body = UnreadCount),
        (status = 503, description = "`not_caught_up`: the notifications view has not reached the consistency token yet", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn unread_count(
    State(state): State<AppState>,
    AuthUser(user_id): AuthUser,
    consistency: Option<Consistency>,
) -> Result<Json<UnreadCount>, ApiError> {
    state.caught_up(VIEW, consistency).await?;
    Ok(Json(UnreadCount {
        unread: projections::notifications::unread(&state.pool, user_id).await?,
    }))
}

/// `POST /notifications/{id}/read`: one of the caller's entries; another's is 404.
#[utoipa::path(
    post,
    path = "/notifications/{notification_id}/read",
    operation_id = "read_notification",
    tag = "notifications",
    summary = "Mark one of the caller's notifications read",
    params(("notification_id" = Uuid, Path, description = "The entry"), Consistency),
    responses(
        (status = 200, description = "Read (or already so)", body = Written<NotificationRead>),
        (status = 404, description = "`notification_not_found`: not in the caller's feed", body = Problem),
        (status = 429, description = "`rate_limited`: the caller's commands per minute used up", body = Problem),
        (status = 503, description = "`not_caught_up`: the notifications view has not reached the consistency token yet", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn read(
    State(state): State<AppState>,
    actor: Actor,
    Path(notification_id): Path<Uuid>,
    consistency: Option<Consistency>,
) -> Result<Written<NotificationRead>, ApiError> {
    state.caught_up(VIEW, consistency).await?;
    let at = projections::notifications::entry_at(&state.pool, actor.user_id, notification_id)
        .await?
        .ok_or_else(|| ApiError::not_found("notification_not_found", "notification not found"))?;
    let position = actor
        .commands
        .read_notification(actor.user_id, notification_id, at)
        .await?;
    Ok(Written::ok(
        NotificationRead {
            notification_id,
            read: true,
        },
        position,
    ))
}

/// `POST /notifications/read-all`: every entry the caller's feed holds now.
#[utoipa::path(
    post,
    path = "/notifications/read-all",
    operation_id = "read_all_notifications",
    tag = "notifications",
    summary = "Mark every notification the caller's feed holds now read",
    params(Consistency),
    responses(
        (status = 200, description = "Read through the newest entry", body = Written<NotificationsRead>),
        (status = 429, description = "`rate_limited`: the caller's commands per minute used up", body = Problem),
        (status = 503, description = "`not_caught_up`: the notifications view has not reached the consistency token yet", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn read_all(
    State(state): State<AppState>,
    actor: Actor,
    consistency: Option<Consistency>,
) -> Result<Written<NotificationsRead>, ApiError> {
    state.caught_up(VIEW, consistency).await?;
    let newest = projections::notifications::newest(&state.pool, actor.user_id).await?;
    let position = actor
        .commands
        .read_notifications_through(actor.user_id, newest.unwrap_or(Position::START))
        .await?;
    Ok(Written::ok(
        NotificationsRead {
            through: newest.map(|p| p.to_string()),
        },
        position,
    ))
}
