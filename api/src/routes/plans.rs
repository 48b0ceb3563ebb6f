//! A couple's plans: made, listed, moved and deleted by either partner; reminded 2 h ahead.

use axum::extract::State;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use domain::plan::PlanChange;
use domain::values::{Memo, Place, Title};
use projections::frames::{PlanEntry, Problem};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::couples::our_couple;
use super::{page_limit, Written};
use crate::error::ApiError;
use crate::extract::{Actor, AuthUser, Consistency, Json, Path, Query};
use crate::state::AppState;

/// The `plan_id` path parameter.
const PLAN_ID: &str = "One of the couple's plans";

/// Without `from`/`to`, plans from a day ago to a year ahead are listed.
const DEFAULT_BACK_DAYS: i64 = 1;
const DEFAULT_AHEAD_DAYS: i64 = 365;

/// A plan, or what to change on one: on a change, what is absent stays and a null `place` or
/// `memo` clears it. A new plan needs `title` and `starts_at`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanBody {
    /// 1 to 100 characters, trimmed.
    #[schema(min_length = 1, max_length = 100)]
    title: Option<String>,
    /// When it starts (kept to the microsecond).
    #[serde(default, deserialize_with = "crate::extract::in_calendar")]
    starts_at: Option<DateTime<Utc>>,
    /// Where: 1 to 200 characters, trimmed; null clears it.
    #[serde(default, deserialize_with = "crate::extract::nullable")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 200)]
    place: Option<Option<String>>,
    /// A note: 1 to 2000 characters, trimmed, newlines allowed; null clears it.
    #[serde(default, deserialize_with = "crate::extract::nullable")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 2000)]
    memo: Option<Option<String>>,
}

impl PlanBody {
    fn change(self) -> Result<PlanChange, ApiError> {
        Ok(PlanChange {
            title: self.title.as_deref().map(Title::parse).transpose()?,
            // PostgreSQL keeps microseconds: the answer, the lists and the reminders agree.
            starts_at: self.starts_at.map(|t| t.trunc_subsecs(6)),
            place: self
                .place
                .map(|p| p.as_deref().map(Place::parse).transpose())
                .transpose()?,
            memo: self
                .memo
                .map(|m| m.as_deref().map(Memo::parse).transpose())
                .transpose()?,
        })
    }
}

/// `POST /couples/me/plans` `{title, starts_at, place?, memo?}`.
#[utoipa::path(
    post,
    path = "/couples/me/plans",
    operation_id = "create_plan",
    tag = "couples",
    summary = "Make a plan (both partners are reminded 2 hours ahead)",
    request_body(content = PlanBody, description = "`title` and `starts_at` are required"),
    responses(
        (status = 201, description = "Made", body = Written<PlanEntry>),
        (status = 404, description = "`couple_not_found`: the caller is in none", body = Problem),
        (status = 422, description = "`plan_incomplete`: no `title` or no `starts_at`; `invalid_value`: a bad title, place or memo", body = Problem),
        (status = 429, description = "`rate_limited`: the caller's commands per minute used up", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn create(
    actor: Actor,
    Json(body): Json<PlanBody>,
) -> Result<Written<PlanEntry>, ApiError> {
    let change = body.change()?;
    if change.title.is_none() || change.starts_at.is_none() {
        return Err(ApiError::invalid(
            "plan_incomplete",
            "a plan needs a title and starts_at",
        ));
    }
    let (plan, position) = actor.commands.create_plan(actor.user_id, change).await?;
    Ok(Written::created(PlanEntry::from(&plan), position))
}

/// Which plans: those starting from `from` up to `to`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PlansQuery {
    /// The earliest start (default: a day ago).
    #[serde(default, deserialize_with = "crate::extract::in_calendar")]
    from: Option<DateTime<Utc>>,
    /// The latest start, not before `from` (default: a year ahead).
    #[serde(default, deserialize_with = "crate::extract::in_calendar")]
    to: Option<DateTime<Utc>>,
    /// Plans per answer, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// The couple's plans, soonest first.
#[derive(Serialize, ToSchema)]
pub struct Plans {
    /// The plans.
    plans: Vec<PlanEntry>,
}

/// `GET /couples/me/plans?from=&to=&limit=`: soonest first.
#[utoipa::path(
    get,
    path = "/couples/me/plans",
    operation_id = "list_plans",
    tag = "couples",
    summary = "The couple's plans in a window of time, soonest first",
    params(PlansQuery, Consistency),
    responses(
        (status = 200, description = "The plans", body = Plans),
        (status = 404, description = "`couple_not_found`: the caller is in none", body = Problem),
        (status = 422, description = "`bad_limit`; `bad_range`: `from` after `to`", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn list(
    State(state): State<AppState>,
    AuthUser(user_id): AuthUser,
    consistency: Option<Consistency>,
    Query(query): Query<PlansQuery>,
) -> Result<Json<Plans>, ApiError> {
    let limit = page_limit(query.limit)?;
    let couple = our_couple(&state, user_id, consistency).await?;
    let now = Utc::now();
    let from = query
        .from
        .unwrap_or(now - Duration::days(DEFAULT_BACK_DAYS));
    let to = query.to.unwrap_or(now + Duration::days(DEFAULT_AHEAD_DAYS));
    if to < from {
        return Err(ApiError::invalid("bad_range", "from must not be after to"));
    }
    let plans = projections::couples::plans(&state.pool, couple.couple_id, from, to, limit).await?;
    Ok(Json(Plans { plans }))
}

/// `GET /couples/me/plans/{id}`.
#[utoipa::path(
    get,
    path = "/couples/me/plans/{plan_id}",
    operation_id = "get_plan",
    tag = "couples",
    summary = "One of the couple's plans",
    params(("plan_id" = Uuid, Path, description = PLAN_ID), Consistency),
    responses(
        (status = 200, description = "The plan", body = PlanEntry),
        (status = 404, description = "`couple_not_found`: the caller is in none; `plan_not_found`: no such plan of the couple's", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn show(
    State(state): State<AppState>,
    AuthUser(user_id): AuthUser,
    consistency: Option<Consistency>,
    Path(plan_id): Path<Uuid>,
) -> Result<Json<PlanEntry>, ApiError> {
    let couple = our_couple(&state, user_id, consistency).await?;
    projections::couples::plan(&state.pool, couple.couple_id, plan_id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("plan_not_found", "no such plan"))
}

/// `PATCH /couples/me/plans/{id}`: move, rename, change place or memo (`null` clears).
#[utoipa::path(
    patch,
    path = "/couples/me/plans/{plan_id}",
    operation_id = "update_plan",
    tag = "couples",
    summary = "Move, rename, or change a plan's place or memo (null clears them)",
    params(("plan_id" = Uuid, Path, description = PLAN_ID)),
    request_body = PlanBody,
    responses(
        (status = 200, description = "The plan as it now is", body = Written<PlanEntry>),
        (status = 404, description = "`couple_not_found`: the caller is in none; `plan_not_found`: no such plan of the couple's", body = Problem),
        (status = 422, description = "`invalid_value`: a bad title, place or memo", body = Problem),
        (status = 429, description = "`rate_limited`: the caller's commands per minute used up", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn update(
    actor: Actor,
    Path(plan_id): Path<Uuid>,
    Json(body): Json<PlanBody>,
) -> Result<Written<PlanEntry>, ApiError> {
    let change = body.change()?;
    let (plan, position) = actor
        .commands
        .update_plan(actor.user_id, plan_id, change)
        .await?;
    Ok(Written::ok(PlanEntry::from(&plan), position))
}

/// The plan deleted.
#[derive(Serialize, ToSchema)]
pub struct DeletedPlan {
    /// The plan.
    plan_id: Uuid,
    /// Always true.
    deleted: bool,
}

/// `DELETE /couples/me/plans/{id}`: its reminder goes with it.
#[utoipa::path(
    delete,
    path = "/couples/me/plans/{plan_id}",
    operation_id = "delete_plan",
    tag = "couples",
    summary = "Delete a plan (its reminder goes with it)",
    params(("plan_id" = Uuid, Path, description = PLAN_ID)),
    responses(
        (status = 200, description = "Deleted", body = Written<DeletedPlan>),
        (status = 404, description = "`couple_not_found`: the caller is in none; `plan_not_found`: no such plan of the couple's", body = Problem),
        (status = 429, description = "`rate_limited`: the caller's commands per minute used up", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn delete(
    actor: Actor,
    Path(plan_id): Path<Uuid>,
) -> Result<Written<DeletedPlan>, ApiError> {
    let position = actor.commands.delete_plan(actor.user_id, plan_id).await?;
    let out = DeletedPlan {
        plan_id,
        deleted: true,
    };
    Ok(Written::ok(out, position))
}
