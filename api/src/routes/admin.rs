//! `/admin`: platform admins list accounts, suspend and reinstate them, and read what admins did.
//! Every route asks the caller's own `User` whether they are an admin; anyone else gets 403.

use axum::extract::State;
use chrono::{DateTime, Utc};
use domain::values::Reason;
use projections::frames::Problem;
use projections::users::{self, Account, AccountFilter, AccountStatus, AuditEntry, VIEW};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::Written;
use crate::error::ApiError;
use crate::extract::{Actor, Consistency, Json, Path, Query};
use crate::state::AppState;

/// Which accounts to list, and the page.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AccountsQuery {
    /// Part of an e-mail or a display name, case-insensitive (blank: every account).
    query: Option<String>,
    /// `active` or `suspended` (absent: both, and deleted accounts too).
    #[param(pattern = "^(active|suspended)$")]
    status: Option<String>,
    /// The `next_cursor` of the page before.
    cursor: Option<Uuid>,
    /// Accounts per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// A page of accounts.
#[derive(Serialize, ToSchema)]
pub struct Accounts {
    /// The accounts, by user id, descending.
    users: Vec<Account>,
    /// The `cursor` of the next page, if there may be one.
    next_cursor: Option<Uuid>,
}

/// `GET /admin/users?query=&status=active|suspended&cursor=&limit=`.
#[utoipa::path(
    get,
    path = "/admin/users",
    operation_id = "admin_list_accounts",
    tag = "admin",
    summary = "List accounts (platform admins)",
    params(AccountsQuery, Consistency),
    responses(
        (status = 200, description = "A page of accounts", body = Accounts),
        (status = 403, description = "`not_admin`", body = Problem),
        (status = 422, description = "`bad_status`, `bad_limit`", body = Problem),
        (status = 503, description = "`not_caught_up`: the users view has not reached the consistency token yet", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn accounts(
    State(state): State<AppState>,
    actor: Actor,
    Query(query): Query<AccountsQuery>,
    consistency: Option<Consistency>,
) -> Result<Json<Accounts>, ApiError> {
    actor.commands.refuse_unless_admin(actor.user_id).await?;
    let limit = super::page_limit(query.limit)?;
    let suspended = match query.status.as_deref() {
        None => None,
        Some("active") => Some(false),
        Some("suspended") => Some(true),
        Some(_) => {
            return Err(ApiError::invalid(
                "bad_status",
                "status is active or suspended",
            ))
        }
    };
    let filter = AccountFilter {
        query: query.query.filter(|q| !q.trim().is_empty()),
        suspended,
    };
    state.caught_up(VIEW, consistency).await?;
    let users = users::accounts(&state.pool, &filter, query.cursor, limit).await?;
    let next_cursor = super::next_cursor(&users, limit, |u| u.user_id);
    Ok(Json(Accounts { users, next_cursor }))
}

/// A suspension.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Suspend {
    /// Why (1 to 500 characters, trimmed, newlines allowed).
    #[schema(min_length = 1, max_length = 500)]
    reason: String,
    /// When it ends by itself, in the future (none: when an admin reinstates the user).
    #[serde(default, deserialize_with = "crate::extract::in_calendar")]
    until: Option<DateTime<Utc>>,
}

/// Where a user stands after an admin's action.
#[derive(Serialize, ToSchema)]
pub struct Standing {
    /// The user.
    user_id: Uuid,
    /// `suspended` or `active`.
    status: AccountStatus,
    /// When the suspension ends by itself, if it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    until: Option<DateTime<Utc>>,
}

/// `POST /admin/users/{user_id}/suspend` `{reason, until?}`.
#[utoipa::path(
    post,
    path = "/admin/users/{user_id}/suspend",
    operation_id = "admin_suspend_user",
    tag = "admin",
    summary = "Suspend a user: every session of theirs ends (platform admins)",
    params(("user_id" = Uuid, Path, description = "Whom to suspend")),
    request_body = Suspend,
    responses(
        (status = 200, description = "Suspended", body = Written<Standing>),
        (status = 403, description = "`not_admin`", body = Problem),
        (status = 404, description = "`user_not_found`", body = Problem),
        (status = 422, description = "`invalid_value`: a reason that breaks its rules; `until_in_past`; `self_suspend`", body = Problem),
        (status = 429, description = "`rate_limited`: the caller's commands per minute used up", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn suspend(
    actor: Actor,
    Path(user_id): Path<Uuid>,
    Json(body): Json<Suspend>,
) -> Result<Written<Standing>, ApiError> {
    let reason = Reason::parse(&body.reason)?;
    let position = actor
        .commands
        .suspend(actor.user_id, user_id, reason, body.until)
        .await?;
    let standing = Standing {
        user_id,
        status: AccountStatus::Suspended,
        until: body.until,
    };
    Ok(Written::ok(standing, position))
}

/// `POST /admin/users/{user_id}/reinstate`.
#[utoipa::path(
    post,
    path = "/admin/users/{user_id}/reinstate",
    operation_id = "admin_reinstate_user",
    tag = "admin",
    summary = "Lift a user's suspension (platform admins)",
    params(("user_id" = Uuid, Path, description = "Whom to reinstate")),
    responses(
        (status = 200, description = "Active (or already so)", body = Written<Standing>),
        (status = 403, description = "`not_admin`", body = Problem),
        (status = 404, description = "`user_not_found`", body = Problem),
        (status = 429, description = "`rate_limited`: the caller's commands per minute used up", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn reinstate(
    actor: Actor,
    Path(user_id): Path<Uuid>,
) -> Result<Written<Standing>, ApiError> {
    let position = actor.commands.reinstate(actor.user_id, user_id).await?;
    let standing = Standing {
        user_id,
        status: AccountStatus::Active,
        until: None,
    };
    Ok(Written::ok(standing, position))
}

/// A page of the audit.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// The `next_cursor` of the page before.
    cursor: Option<Uuid>,
    /// Actions per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// A page of admin actions.
#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    /// Newest first.
    actions: Vec<AuditEntry>,
    /// The `cursor` of the next (older) page, if there may be one.
    next_cursor: Option<Uuid>,
}

/// `GET /admin/audit?cursor=&limit=`: every admin action, newest first.
#[utoipa::path(
    get,
    path = "/admin/audit",
    operation_id = "admin_audit_log",
    tag = "admin",
    summary = "Every admin action, newest first (platform admins)",
    params(AuditQuery, Consistency),
    responses(
        (status = 200, description = "A page of actions", body = AuditPage),
        (status = 403, description = "`not_admin`", body = Problem),
        (status = 422, description = "`bad_limit`", body = Problem),
        (status = 503, description = "`not_caught_up`: the users view has not reached the consistency token yet", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn audit(
    State(state): State<AppState>,
    actor: Actor,
    Query(query): Query<AuditQuery>,
    consistency: Option<Consistency>,
) -> Result<Json<AuditPage>, ApiError> {
    actor.commands.refuse_unless_admin(actor.user_id).await?;
    let limit = super::page_limit(query.limit)?;
    state.caught_up(VIEW, consistency).await?;
    let actions = users::audit(&state.pool, query.cursor, limit).await?;
    let next_cursor = super::next_cursor(&actions, limit, |a| a.event_id);
    Ok(Json(AuditPage {
        actions,
        next_cursor,
    }))
}
