//! `/admin`: platform admins list accounts, suspend and reinstate them, and read what admins did.
//! Every route asks the caller's own `User` whether they are an admin; anyone else gets 403.

use axum::extract::State;
use chrono::{DateTime, Utc};
use domain::values::Reason;
use projections::users::{self, Account, AccountFilter, AuditEntry, VIEW};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Written;
use crate::error::ApiError;
use crate::extract::{Actor, Consistency, Json, Path, Query};
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountsQuery {
    query: Option<String>,
    status: Option<String>,
    cursor: Option<Uuid>,
    limit: Option<i64>,
}

#[derive(Serialize)]
pub struct Accounts {
    users: Vec<Account>,
    /// The `cursor` of the next page, if there may be one.
    next_cursor: Option<Uuid>,
}

/// `GET /admin/users?query=&status=active|suspended&cursor=&limit=`.
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suspend {
    reason: String,
    until: Option<DateTime<Utc>>,
}

#[derive(Serialize)]
pub struct Standing {
    user_id: Uuid,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    until: Option<DateTime<Utc>>,
}

/// `POST /admin/users/{user_id}/suspend` `{reason, until?}`.
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
        status: "suspended",
        until: body.until,
    };
    Ok(Written::ok(standing, position))
}

/// `POST /admin/users/{user_id}/reinstate`.
pub async fn reinstate(
    actor: Actor,
    Path(user_id): Path<Uuid>,
) -> Result<Written<Standing>, ApiError> {
    let position = actor.commands.reinstate(actor.user_id, user_id).await?;
    let standing = Standing {
        user_id,
        status: "active",
        until: None,
    };
    Ok(Written::ok(standing, position))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    cursor: Option<Uuid>,
    limit: Option<i64>,
}

#[derive(Serialize)]
pub struct Audit {
    actions: Vec<AuditEntry>,
    /// The `cursor` of the next (older) page, if there may be one.
    next_cursor: Option<Uuid>,
}

/// `GET /admin/audit?cursor=&limit=`: every admin action, newest first.
pub async fn audit(
    State(state): State<AppState>,
    actor: Actor,
    Query(query): Query<AuditQuery>,
    consistency: Option<Consistency>,
) -> Result<Json<Audit>, ApiError> {
    actor.commands.refuse_unless_admin(actor.user_id).await?;
    let limit = super::page_limit(query.limit)?;
    state.caught_up(VIEW, consistency).await?;
    let actions = users::audit(&state.pool, query.cursor, limit).await?;
    let next_cursor = super::next_cursor(&actions, limit, |a| a.event_id);
    Ok(Json(Audit {
        actions,
        next_cursor,
    }))
}
