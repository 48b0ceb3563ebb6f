//! A couple's plans: made, listed, moved and deleted by either partner; reminded 2 h ahead.

use axum::extract::State;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use domain::plan::PlanChange;
use domain::values::{Memo, Place, Title};
use projections::frames::PlanEntry;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::couples::our_couple;
use super::{page_limit, Written};
use crate::error::ApiError;
use crate::extract::{Actor, AuthUser, Consistency, Json, Path, Query};
use crate::state::AppState;

/// Without `from`/`to`, plans from a day ago to a year ahead are listed.
const DEFAULT_BACK_DAYS: i64 = 1;
const DEFAULT_AHEAD_DAYS: i64 = 365;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanBody {
    title: Option<String>,
    starts_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "crate::extract::nullable")]
    place: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::extract::nullable")]
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlansQuery {
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    limit: Option<i64>,
}

#[derive(Serialize)]
pub struct Plans {
    plans: Vec<PlanEntry>,
}

/// `GET /couples/me/plans?from=&to=&limit=`: soonest first.
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

#[derive(Serialize)]
pub struct Deleted {
    plan_id: Uuid,
    deleted: bool,
}

/// `DELETE /couples/me/plans/{id}`: its reminder goes with it.
pub async fn delete(actor: Actor, Path(plan_id): Path<Uuid>) -> Result<Written<Deleted>, ApiError> {
    let position = actor.commands.delete_plan(actor.user_id, plan_id).await?;
    let out = Deleted {
        plan_id,
        deleted: true,
    };
    Ok(Written::ok(out, position))
}
