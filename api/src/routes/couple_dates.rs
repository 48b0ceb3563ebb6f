//! A couple's dates: the anniversaries (automatic, birthdays, their own) and the month calendar.

use std::collections::BTreeMap;

use axum::extract::State;
use chrono::{Datelike, Duration, NaiveDate, Utc};
use domain::couple::calendar::{self, AnniversaryKind, Dates, Occurrence, Repeats};
use domain::values::{TimeZoneName, Title};
use projections::couples::{CoupleDates, VIEW};
use projections::frames::{PlanEntry, Problem};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::couples::our_couple;
use super::Written;
use crate::error::ApiError;
use crate::extract::{Actor, AuthUser, Consistency, Json, Path, Query};
use crate::state::AppState;

/// The widest window one anniversaries query may span.
const MAX_SPAN_DAYS: i64 = 3660;
/// Without `to`, anniversaries of the coming year are listed.
const DEFAULT_SPAN_DAYS: i64 = 365;

/// One anniversary on one day, as listed.
#[derive(Serialize, ToSchema)]
pub struct AnniversaryOut {
    /// A custom date's id (what `PATCH` and `DELETE` take), a birthday's partner; null on the
    /// automatic ones.
    id: Option<Uuid>,
    /// `100일`, `1주년`, a birthday or the couple's own title.
    title: String,
    /// The day.
    date: NaiveDate,
    /// Where it comes from.
    kind: AnniversaryKind,
    /// Whether it comes back every year.
    repeats: Repeats,
    /// `D-12`, `D-Day` or `D+3` from today in the couple's zone.
    d_day_label: String,
}

impl AnniversaryOut {
    fn of(occurrence: Occurrence, today: NaiveDate) -> Self {
        Self {
            id: occurrence.id,
            d_day_label: calendar::d_day_label(occurrence.date, today),
            title: occurrence.title,
            date: occurrence.date,
            kind: occurrence.kind,
            repeats: occurrence.repeats,
        }
    }
}

/// The days to list anniversaries in: at most 3660 days.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// The first day (default: today in the couple's zone).
    #[serde(default, deserialize_with = "crate::extract::in_calendar")]
    from: Option<NaiveDate>,
    /// The last day, not before `from` (default: 365 days after `from`).
    #[serde(default, deserialize_with = "crate::extract::in_calendar")]
    to: Option<NaiveDate>,
}

/// Anniversaries, soonest first.
#[derive(Serialize, ToSchema)]
pub struct Anniversaries {
    /// Each on its day.
    anniversaries: Vec<AnniversaryOut>,
}

/// The couple's dates and today, in their zone.
async fn our_dates(
    state: &AppState,
    user_id: Uuid,
    consistency: Option<Consistency>,
) -> Result<(Uuid, CoupleDates, NaiveDate, TimeZoneName), ApiError> {
    let couple = our_couple(state, user_id, consistency).await?;
    let mut conn = state.pool.acquire().await?;
    let dates = projections::couples::dates(&mut conn, couple.couple_id)
        .await?
        .ok_or_else(|| ApiError::not_found("couple_not_found", "you are not in a couple"))?;
    let zone = TimeZoneName::parse(&dates.time_zone).unwrap_or(TimeZoneName::SEOUL);
    let today = calendar::local_date(zone.tz(), Utc::now());
    Ok((couple.couple_id, dates, today, zone))
}

fn occurrences(dates: &CoupleDates, from: NaiveDate, to: NaiveDate) -> Vec<Occurrence> {
    calendar::between(
        Dates {
            started_on: dates.started_on,
            birthdays: &dates.birthdays,
            custom: &dates.custom,
        },
        from,
        to,
    )
}

/// `GET /couples/me/anniversaries?from=&to=`: every anniversary falling in the window
/// (default: today and the year after it).
#[utoipa::path(
    get,
    path = "/couples/me/anniversaries",
    operation_id = "list_anniversaries",
    tag = "couples",
    summary = "Every anniversary in a window of days (default: today and the year after)",
    description = "The automatic ones (every 100 days to 1000, then every 1000; every year), the \
        partners' birthdays and the couple's own dates, with a D-day label from today.",
    params(Window, Consistency),
    responses(
        (status = 200, description = "Soonest first", body = Anniversaries),
        (status = 404, description = "`couple_not_found`: the caller is in none", body = Problem),
        (status = 422, description = "`bad_range`: `to` before `from`, or over 3660 days", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn list(
    State(state): State<AppState>,
    AuthUser(user_id): AuthUser,
    consistency: Option<Consistency>,
    Query(window): Query<Window>,
) -> Result<Json<Anniversaries>, ApiError> {
    let (_, dates, today, _) = our_dates(&state, user_id, consistency).await?;
    let from = window.from.unwrap_or(today);
    let to = window.to.unwrap_or_else(|| {
        from.checked_add_signed(Duration::days(DEFAULT_SPAN_DAYS))
            .unwrap_or(NaiveDate::MAX)
    });
    if to < from || (to - from).num_days() > MAX_SPAN_DAYS {
        return Err(ApiError::invalid(
            "bad_range",
            format!("from..to must be ordered and span at most {MAX_SPAN_DAYS} days"),
        ));
    }
    let anniversaries = occurrences(&dates, from, to)
        .into_iter()
        .map(|o| AnniversaryOut::of(o, today))
        .collect();
    Ok(Json(Anniversaries { anniversaries }))
}

/// A date of the couple's own.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAnniversary {
    /// 1 to 100 characters, trimmed.
    #[schema(min_length = 1, max_length = 100)]
    title: String,
    /// The day (of its first year, when it repeats).
    #[serde(deserialize_with = "crate::extract::in_calendar")]
    date: NaiveDate,
    /// Whether it comes back every year (default `none`).
    #[serde(default = "no_repeat")]
    #[schema(default = "none")]
    repeats: Repeats,
}

fn no_repeat() -> Repeats {
    Repeats::None
}

/// What to change on a date of the couple's own; what is absent (or null) stays.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnniversaryChange {
    /// 1 to 100 characters, trimmed.
    #[schema(min_length = 1, max_length = 100)]
    title: Option<String>,
    /// The day.
    #[serde(default, deserialize_with = "crate::extract::in_calendar")]
    date: Option<NaiveDate>,
    /// Whether it comes back every year.
    repeats: Option<Repeats>,
}

/// A custom date as the partner who wrote it sees it.
fn custom_out(
    couple: &domain::couple::Couple,
    anniversary_id: Uuid,
) -> Result<AnniversaryOut, ApiError> {
    let date = couple
        .custom(anniversary_id)
        .ok_or_else(|| ApiError::not_found("anniversary_not_found", "no such anniversary"))?;
    let today = calendar::local_date(couple.time_zone().tz(), Utc::now());
    Ok(AnniversaryOut::of(
        Occurrence {
            id: Some(date.id),
            title: date.title.clone(),
            date: date.date,
            kind: AnniversaryKind::Custom,
            repeats: date.repeats,
        },
        today,
    ))
}

/// `POST /couples/me/anniversaries`.
#[utoipa::path(
    post,
    path = "/couples/me/anniversaries",
    operation_id = "add_anniversary",
    tag = "couples",
    summary = "Add a date of the couple's own",
    request_body = NewAnniversary,
    responses(
        (status = 201, description = "Added", body = Written<AnniversaryOut>),
        (status = 404, description = "`couple_not_found`: the caller is in none", body = Problem),
        (status = 422, description = "`invalid_value`: a bad title; `too_many_anniversaries`: 200 already", body = Problem),
        (status = 429, description = "`rate_limited`: the caller's commands per minute used up", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn add(
    actor: Actor,
    Json(body): Json<NewAnniversary>,
) -> Result<Written<AnniversaryOut>, ApiError> {
    let title = Title::parse(&body.title)?;
    let (id, couple, position) = actor
        .commands
        .add_anniversary(actor.user_id, title, body.date, body.repeats)
        .await?;
    Ok(Written::created(custom_out(&couple, id)?, position))
}

/// `PATCH /couples/me/anniversaries/{id}`: the couple's own dates only.
#[utoipa::path(
    patch,
    path = "/couples/me/anniversaries/{anniversary_id}",
    operation_id = "change_anniversary",
    tag = "couples",
    summary = "Change a date of the couple's own",
    params(("anniversary_id" = Uuid, Path, description = ANNIVERSARY_ID)),
    request_body = AnniversaryChange,
    responses(
        (status = 200, description = "Changed", body = Written<AnniversaryOut>),
        (status = 404, description = "`couple_not_found`: the caller is in none; `anniversary_not_found`: not one of the couple's own dates", body = Problem),
        (status = 422, description = "`invalid_value`: a bad title", body = Problem),
        (status = 429, description = "`rate_limited`: the caller's commands per minute used up", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn change(
    actor: Actor,
    Path(anniversary_id): Path<Uuid>,
    Json(body): Json<AnniversaryChange>,
) -> Result<Written<AnniversaryOut>, ApiError> {
    let title = body.title.as_deref().map(Title::parse).transpose()?;
    let (couple, position) = actor
        .commands
        .change_anniversary(
            actor.user_id,
            anniversary_id,
            title,
            body.date,
            body.repeats,
        )
        .await?;
    Ok(Written::ok(custom_out(&couple, anniversary_id)?, position))
}

/// The `anniversary_id` path parameter.
const ANNIVERSARY_ID: &str = "One of the couple's own dates";

/// The date removed.
#[derive(Serialize, ToSchema)]
pub struct RemovedAnniversary {
    /// The date.
    anniversary_id: Uuid,
    /// Always true.
    deleted: bool,
}

/// `DELETE /couples/me/anniversaries/{id}`.
#[utoipa::path(
    delete,
    path = "/couples/me/anniversaries/{anniversary_id}",
    operation_id = "remove_anniversary",
    tag = "couples",
    summary = "Remove a date of the couple's own",
    params(("anniversary_id" = Uuid, Path, description = ANNIVERSARY_ID)),
    responses(
        (status = 200, description = "Removed", body = Written<RemovedAnniversary>),
        (status = 404, description = "`couple_not_found`: the caller is in none; `anniversary_not_found`: not one of the couple's own dates", body = Problem),
        (status = 429, description = "`rate_limited`: the caller's commands per minute used up", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn remove(
    actor: Actor,
    Path(anniversary_id): Path<Uuid>,
) -> Result<Written<RemovedAnniversary>, ApiError> {
    let position = actor
        .commands
        .remove_anniversary(actor.user_id, anniversary_id)
        .await?;
    let out = RemovedAnniversary {
        anniversary_id,
        deleted: true,
    };
    Ok(Written::ok(out, position))
}

/// The month to show.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Month {
    /// `2026-12` (years 1 to 9999).
    #[param(pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$", example = "2026-12")]
    month: String,
}

/// A day of the calendar that has something on it.
#[derive(Serialize, ToSchema)]
pub struct CalendarDay {
    /// The day, in the couple's zone.
    date: NaiveDate,
    /// Plans starting that day, soonest first.
    plans: Vec<PlanEntry>,
    /// Anniversaries and birthdays falling on it.
    anniversaries: Vec<AnniversaryOut>,
}

/// A month of the couple's calendar.
#[derive(Serialize, ToSchema)]
pub struct Calendar {
    /// The month, as asked.
    month: String,
    /// The IANA zone the days are in.
    time_zone: String,
    /// Each day with a plan, an anniversary or a birthday, in order.
    days: Vec<CalendarDay>,
}

/// The first day of `2026-12`, or a 422.
fn first_of(month: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .ok()
        .filter(|d| (1..=9999).contains(&d.year()) && month.len() == 7)
        .ok_or_else(|| ApiError::invalid("bad_month", "month is like 2026-12"))
}

/// `GET /couples/me/calendar?month=2026-12`: each day of the month that has a plan, an
/// anniversary or a birthday, in the couple's zone.
#[utoipa::path(
    get,
    path = "/couples/me/calendar",
    operation_id = "get_couple_calendar",
    tag = "couples",
    summary = "A month of the couple's calendar: plans, anniversaries and birthdays by day",
    params(Month, Consistency),
    responses(
        (status = 200, description = "The month's days that have something on them", body = Calendar),
        (status = 404, description = "`couple_not_found`: the caller is in none", body = Problem),
        (status = 422, description = "`bad_month`: not like `2026-12`", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn month(
    State(state): State<AppState>,
    AuthUser(user_id): AuthUser,
    consistency: Option<Consistency>,
    Query(query): Query<Month>,
) -> Result<Json<Calendar>, ApiError> {
    let first = first_of(&query.month)?;
    state.caught_up(VIEW, consistency).await?;
    let (couple_id, dates, today, zone) = our_dates(&state, user_id, None).await?;
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .ok_or_else(|| ApiError::invalid("bad_month", "month is like 2026-12"))?;
    let last = next - Duration::days(1);
    let midnight = |day: NaiveDate| {
        day.and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(zone.tz()).earliest())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| ApiError::invalid("bad_month", "month is like 2026-12"))
    };
    let plans = projections::couples::plans(
        &state.pool,
        couple_id,
        midnight(first)?,
        midnight(next)?,
        super::MAX_PAGE,
    )
    .await?;
    let mut days: BTreeMap<NaiveDate, CalendarDay> = BTreeMap::new();
    let day = |date| CalendarDay {
        date,
        plans: Vec::new(),
        anniversaries: Vec::new(),
    };
    for plan in plans {
        let date = calendar::local_date(zone.tz(), plan.starts_at);
        days.entry(date)
            .or_insert_with(|| day(date))
            .plans
            .push(plan);
    }
    for occurrence in occurrences(&dates, first, last) {
        let date = occurrence.date;
        days.entry(date)
            .or_insert_with(|| day(date))
            .anniversaries
            .push(AnniversaryOut::of(occurrence, today));
    }
    let days = days.into_values().collect();
    Ok(Json(Calendar {
        month: query.month,
        time_zone: zone.as_str().to_owned(),
        days,
    }))
}
