//! Couple invites, matching, the couple itself (day 1, time zone, D-day) and unmatching.

use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use commands::CommandError;
use domain::couple::calendar;
use domain::values::InviteCode;
use domain::values::TimeZoneName;
use projections::couples::{Couple, OpenInvite, VIEW};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Written;
use crate::error::ApiError;
use crate::extract::{Actor, AuthUser, Consistency, Json, Path};
use crate::security::{self, ClientIp};
use crate::state::AppState;

#[derive(Serialize)]
pub struct InviteOut {
    code: String,
    expires_at: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Match {
    code: String,
}

#[derive(Serialize)]
pub struct Matched {
    couple_id: Uuid,
    partner_id: Uuid,
    room_id: Uuid,
    since: DateTime<Utc>,
}

#[derive(Serialize)]
pub struct OpenInvites {
    open_invites: Vec<OpenInvite>,
}

#[derive(Serialize)]
pub struct Partner {
    user_id: Uuid,
    display_name: Option<String>,
    avatar_url: Option<String>,
}

/// The caller's couple.
#[derive(Serialize)]
pub struct CoupleOut {
    couple_id: Uuid,
    partner: Partner,
    since: DateTime<Utc>,
    started_on: NaiveDate,
    time_zone: String,
    /// Today's day number, day 1 being `started_on` (today in the couple's zone).
    d_day: i64,
    room_id: Uuid,
}

impl CoupleOut {
    fn of(couple: Couple) -> Self {
        let zone = TimeZoneName::parse(&couple.time_zone).unwrap_or(TimeZoneName::SEOUL);
        let today = calendar::local_date(zone.tz(), Utc::now());
        Self {
            couple_id: couple.couple_id,
            partner: Partner {
                user_id: couple.partner_id,
                display_name: couple.partner_name,
                avatar_url: None,
            },
            since: couple.since,
            started_on: couple.started_on,
            time_zone: couple.time_zone,
            d_day: calendar::d_day(couple.started_on, today),
            room_id: couple.room_id,
        }
    }
}

/// The caller's couple from the read model, or 404.
pub async fn our_couple(
    state: &AppState,
    user_id: Uuid,
    consistency: Option<Consistency>,
) -> Result<Couple, ApiError> {
    state.caught_up(VIEW, consistency).await?;
    projections::couples::couple_of(&state.pool, user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("couple_not_found", "you are not in a couple"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoupleChange {
    started_on: Option<NaiveDate>,
    time_zone: Option<String>,
}

#[derive(Serialize)]
pub struct CoupleSettingsOut {
    couple_id: Uuid,
    started_on: Option<NaiveDate>,
    time_zone: String,
    d_day: Option<i64>,
}

#[derive(Serialize)]
pub struct Dissolved {
    couple_id: Uuid,
    dissolved: bool,
}

/// `POST /couples/invites`.
pub async fn create_invite(actor: Actor) -> Result<Written<InviteOut>, ApiError> {
    let invite = actor.commands.create_invite(actor.user_id).await?;
    let out = InviteOut {
        code: invite.code.as_str().to_owned(),
        expires_at: invite.expires_at,
    };
    Ok(Written::created(out, invite.position))
}

/// `POST /couples/match`.
pub async fn match_couple(
    actor: Actor,
    ip: ClientIp,
    Json(body): Json<Match>,
) -> Result<Written<Matched>, ApiError> {
    let code = InviteCode::parse(&body.code)?;
    let matched = actor
        .commands
        .match_couple(actor.user_id, code)
        .await
        .inspect_err(|error| match error {
            CommandError::RateLimited { .. } => {
                security::rate_limited(ip, Some(actor.user_id), "invite codes");
            }
            CommandError::Rejected {
                code: "invite_not_found" | "invite_expired" | "invite_used",
                ..
            } => security::invite_code_failed(ip, actor.user_id),
            _ => {}
        })?;
    let out = Matched {
        couple_id: matched.couple_id,
        partner_id: matched.partner_id,
        room_id: matched.room_id,
        since: matched.since,
    };
    Ok(Written::created(out, matched.position))
}

#[derive(Serialize)]
pub struct Withdrawn {
    code: String,
    withdrawn: bool,
}

/// `DELETE /couples/invites/{code}`: the inviter takes an unused code back.
pub async fn withdraw_invite(
    actor: Actor,
    Path(code): Path<String>,
) -> Result<Written<Withdrawn>, ApiError> {
    let code = InviteCode::parse(&code)?;
    let position = actor
        .commands
        .withdraw_invite(actor.user_id, code.clone())
        .await?;
    let out = Withdrawn {
        code: code.as_str().to_owned(),
        withdrawn: true,
    };
    Ok(Written::ok(out, position))
}

/// `GET /couples/invites`: the caller's open invites.
pub async fn invites(
    State(state): State<AppState>,
    AuthUser(user_id): AuthUser,
    consistency: Option<Consistency>,
) -> Result<Json<OpenInvites>, ApiError> {
    state.caught_up(VIEW, consistency).await?;
    let open_invites = projections::couples::open_invites(&state.pool, user_id).await?;
    Ok(Json(OpenInvites { open_invites }))
}

/// `GET /couples/me`: the caller's couple; 404 when they are in none.
pub async fn mine(
    State(state): State<AppState>,
    AuthUser(user_id): AuthUser,
    consistency: Option<Consistency>,
) -> Result<Json<CoupleOut>, ApiError> {
    let couple = our_couple(&state, user_id, consistency).await?;
    Ok(Json(CoupleOut::of(couple)))
}

/// `PATCH /couples/me`: day 1 and the time zone.
pub async fn update(
    actor: Actor,
    Json(body): Json<CoupleChange>,
) -> Result<Written<CoupleSettingsOut>, ApiError> {
    let zone = body
        .time_zone
        .as_deref()
        .map(TimeZoneName::parse)
        .transpose()?;
    let (couple, position) = actor
        .commands
        .update_couple(actor.user_id, body.started_on, zone)
        .await?;
    let zone = couple.time_zone();
    let today = calendar::local_date(zone.tz(), Utc::now());
    let out = CoupleSettingsOut {
        couple_id: actor.commands.couple_of(actor.user_id).await?.couple_id,
        started_on: couple.started_on(),
        time_zone: zone.as_str().to_owned(),
        d_day: couple.started_on().map(|d| calendar::d_day(d, today)),
    };
    Ok(Written::ok(out, position))
}

/// `DELETE /couples/me`: unmatch.
pub async fn dissolve(actor: Actor) -> Result<Written<Dissolved>, ApiError> {
    let couple_id = actor.commands.couple_of(actor.user_id).await?.couple_id;
    let position = actor.commands.dissolve_couple(actor.user_id).await?;
    let out = Dissolved {
        couple_id,
        dissolved: true,
    };
    Ok(Written::ok(out, position))
}
