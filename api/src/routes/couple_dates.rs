//! A couple's dates: the anniversaries (automatic, birthdays, their own) and the month calendar.

use std::collections::BTreeMap;

use axum::extract::State;
use chrono::{Datelike, Duration, NaiveDate, Utc};
use domain::couple::calendar::{self, AnniversaryKind, Dates, Occurrence, Repeats};
use domain::values::{TimeZoneName, Title};
use projections::couples::{CoupleDates, VIEW};
use projections::frames::PlanEntry;
use serde::{Deserialize, Serialize};
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
#[derive(Serialize)]
pub struct AnniversaryOut {
    id: Option<Uuid>,
    title: String,
    date: NaiveDate,
    kind: AnniversaryKind,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
}

#[derive(Serialize)]
pub struct Anniversaries {
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
pub async fn list(
    State(state): State<AppState>,
    AuthUser(user_id): AuthUser,
    consistency: Option<Consistency>,
    Query(window): Query<Window>,
) -> Result<Json<Anniversaries>, ApiError> {
    let (_, dates, today, _) = our_dates(&state, user_id, consistency).await?;
    let from = window.from.unwrap_or(today);
    let to = window
        .to
        .unwrap_or_else(|| from + Duration::days(DEFAULT_SPAN_DAYS));
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAnniversary {
    title: String,
    date: NaiveDate,
    #[serde(default = "no_repeat")]
    repeats: Repeats,
}

fn no_repeat() -> Repeats {
    Repeats::None
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnniversaryChange {
    title: Option<String>,
    date: Option<NaiveDate>,
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

#[derive(Serialize)]
pub struct Removed {
    anniversary_id: Uuid,
    deleted: bool,
}

/// `DELETE /couples/me/anniversaries/{id}`.
pub async fn remove(
    actor: Actor,
    Path(anniversary_id): Path<Uuid>,
) -> Result<Written<Removed>, ApiError> {
    let position = actor
        .commands
        .remove_anniversary(actor.user_id, anniversary_id)
        .await?;
    let out = Removed {
        anniversary_id,
        deleted: true,
    };
    Ok(Written::ok(out, position))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Month {
    /// `2026-12`.
    month: String,
}

#[derive(Serialize)]
pub struct Day {
    date: NaiveDate,
    plans: Vec<PlanEntry>,
    anniversaries: Vec<AnniversaryOut>,
}

#[derive(Serialize)]
pub struct Calendar {
    month: String,
    time_zone: String,
    days: Vec<Day>,
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
    let mut days: BTreeMap<NaiveDate, Day> = BTreeMap::new();
    let day = |date| Day {
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
