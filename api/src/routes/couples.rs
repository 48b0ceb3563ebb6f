//! Couple invites, matching, the couple itself (day 1, time zone, D-day) and unmatching.

use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use commands::CommandError;
use domain::couple::calendar;
use domain::values::InviteCode;
use domain::values::TimeZoneName;
use projections::couples::{Couple, OpenInvite, VIEW};
use projections::frames::Problem;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::Written;
use crate::error::ApiError;
use crate::extract::{Actor, AuthUser, Consistency, Json, Path};
use crate::security::{self, ClientIp};
use crate::state::AppState;

/// A new invite code, to share with the partner-to-be.
#[derive(Serialize, ToSchema)]
pub struct InviteOut {
    /// The code: 8 of 0-9 and A-Z without I, L, O, U.
    code: String,
    /// When it stops working (24 hours on).
    expires_at: DateTime<Utc>,
}

/// The code to redeem.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchBody {
    /// 8 of 0-9 and A-Z without I, L, O, U; any case, surrounding spaces ignored.
    #[schema(pattern = "^\\s*[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{8}\\s*$")]
    code: String,
}

/// The couple just formed.
#[derive(Serialize, ToSchema)]
pub struct MatchedCouple {
    /// The couple.
    couple_id: Uuid,
    /// The other half: the code's issuer.
    partner_id: Uuid,
    /// Their private room.
    room_id: Uuid,
    /// When they matched.
    since: DateTime<Utc>,
}

/// The caller's codes not used, withdrawn or expired yet.
#[derive(Serialize, ToSchema)]
pub struct OpenInvites {
    /// The codes.
    open_invites: Vec<OpenInvite>,
}

/// The other half of a couple.
#[derive(Serialize, ToSchema)]
pub struct CouplePartner {
    /// The partner.
    user_id: Uuid,
    /// Their display name (null until the users view has them).
    display_name: Option<String>,
    /// Always null for now.
    avatar_url: Option<String>,
}

/// The caller's couple.
#[derive(Serialize, ToSchema)]
pub struct CoupleOut {
    /// The couple.
    couple_id: Uuid,
    /// The other half.
    partner: CouplePartner,
    /// When they matched.
    since: DateTime<Utc>,
    /// Day 1.
    started_on: NaiveDate,
    /// The IANA zone their days are counted in.
    time_zone: String,
    /// Today's day number, day 1 being `started_on` (today in the couple's zone).
    d_day: i64,
    /// Their private room.
    room_id: Uuid,
}

impl CoupleOut {
    fn of(couple: Couple) -> Self {
        let zone = TimeZoneName::parse(&couple.time_zone).unwrap_or(TimeZoneName::SEOUL);
        let today = calendar::local_date(zone.tz(), Utc::now());
        Self {
            couple_id: couple.couple_id,
            partner: CouplePartner {
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

/// What to change on the couple; what is absent (or null) stays.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CoupleChange {
    /// Day 1: not after today in the couple's zone.
    #[serde(default, deserialize_with = "crate::extract::in_calendar")]
    started_on: Option<NaiveDate>,
    /// An IANA time zone such as `Asia/Seoul`.
    #[schema(example = "Asia/Seoul")]
    time_zone: Option<String>,
}

/// The couple's day 1 and zone after a change.
#[derive(Serialize, ToSchema)]
pub struct CoupleSettingsOut {
    /// The couple.
    couple_id: Uuid,
    /// Day 1.
    started_on: Option<NaiveDate>,
    /// The IANA zone their days are counted in.
    time_zone: String,
    /// Today's day number, day 1 being `started_on`.
    d_day: Option<i64>,
}

/// The couple that was.
#[derive(Serialize, ToSchema)]
pub struct DissolvedCouple {
    /// The couple.
    couple_id: Uuid,
    /// Always true.
    dissolved: bool,
}

/// `POST /couples/invites`.
#[utoipa::path(
    post,
    path = "/couples/invites",
    operation_id = "create_couple_invite",
    tag = "couples",
    summary = "Issue an invite code (for someone not in a couple)",
    responses(
        (status = 201, description = "The code, working for 24 hours", body = Written<InviteOut>),
        (status = 404, description = "`user_not_found`: the caller's account is gone", body = Problem),
        (status = 409, description = "`already_coupled`", body = Problem),
        (status = 429, description = "`rate_limited`: the caller's commands per minute used up", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn create_invite(actor: Actor) -> Result<Written<InviteOut>, ApiError> {
    let invite = actor.commands.create_invite(actor.user_id).await?;
    let out = InviteOut {
        code: invite.code.as_str().to_owned(),
        expires_at: invite.expires_at,
    };
    Ok(Written::created(out, invite.position))
}

/// `POST /couples/match`.
#[utoipa::path(
    post,
    path = "/couples/match",
    operation_id = "match_couple",
    tag = "couples",
    summary = "Redeem a partner's invite code: the two become a couple",
    request_body = MatchBody,
    responses(
        (status = 201, description = "Matched; their room is open", body = Written<MatchedCouple>),
        (status = 404, description = "`invite_not_found`: no such code, or withdrawn; `user_not_found`: the issuer's account is gone", body = Problem),
        (status = 409, description = "`invite_used`; `already_coupled`: the caller or the issuer", body = Problem),
        (status = 410, description = "`invite_expired`", body = Problem),
        (status = 422, description = "`invalid_value`: not a code's shape; `self_match`: the caller's own code", body = Problem),
        (status = 429, description = "`rate_limited`: too many wrong codes lately, or the caller's commands per minute used up", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn match_couple(
    actor: Actor,
    ip: ClientIp,
    Json(body): Json<MatchBody>,
) -> Result<Written<MatchedCouple>, ApiError> {
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
    let out = MatchedCouple {
        couple_id: matched.couple_id,
        partner_id: matched.partner_id,
        room_id: matched.room_id,
        since: matched.since,
    };
    Ok(Written::created(out, matched.position))
}

/// The code taken back.
#[derive(Serialize, ToSchema)]
pub struct WithdrawnInvite {
    /// The code.
    code: String,
    /// Always true.
    withdrawn: bool,
}

/// `DELETE /couples/invites/{code}`: the inviter takes an unused code back.
#[utoipa::path(
    delete,
    path = "/couples/invites/{code}",
    operation_id = "withdraw_couple_invite",
    tag = "couples",
    summary = "Take back an unused invite code (its issuer)",
    params(("code" = String, Path, description = "The code (any case)", pattern = "^[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{8}$")),
    responses(
        (status = 200, description = "Withdrawn (withdrawing again changes nothing)", body = Written<WithdrawnInvite>),
        (status = 404, description = "`invite_not_found`: no such code, or someone else's", body = Problem),
        (status = 409, description = "`invite_used`", body = Problem),
        (status = 422, description = "`invalid_value`: not a code's shape", body = Problem),
        (status = 429, description = "`rate_limited`: the caller's commands per minute used up", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn withdraw_invite(
    actor: Actor,
    Path(code): Path<String>,
) -> Result<Written<WithdrawnInvite>, ApiError> {
    let code = InviteCode::parse(&code)?;
    let position = actor
        .commands
        .withdraw_invite(actor.user_id, code.clone())
        .await?;
    let out = WithdrawnInvite {
        code: code.as_str().to_owned(),
        withdrawn: true,
    };
    Ok(Written::ok(out, position))
}

/// `GET /couples/invites`: the caller's open invites.
#[utoipa::path(
    get,
    path = "/couples/invites",
    operation_id = "list_couple_invites",
    tag = "couples",
    summary = "The caller's open invite codes",
    params(Consistency),
    responses(
        (status = 200, description = "Codes not used, withdrawn or expired", body = OpenInvites),
    ),
    security(("bearer" = [])),
)]
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
#[utoipa::path(
    get,
    path = "/couples/me",
    operation_id = "get_my_couple",
    tag = "couples",
    summary = "The caller's couple, with today's D-day",
    params(Consistency),
    responses(
        (status = 200, description = "The couple", body = CoupleOut),
        (status = 404, description = "`couple_not_found`: the caller is in none", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn mine(
    State(state): State<AppState>,
    AuthUser(user_id): AuthUser,
    consistency: Option<Consistency>,
) -> Result<Json<CoupleOut>, ApiError> {
    let couple = our_couple(&state, user_id, consistency).await?;
    Ok(Json(CoupleOut::of(couple)))
}

/// `PATCH /couples/me`: day 1 and the time zone.
#[utoipa::path(
    patch,
    path = "/couples/me",
    operation_id = "update_my_couple",
    tag = "couples",
    summary = "Change the couple's day 1 or time zone",
    request_body = CoupleChange,
    responses(
        (status = 200, description = "Changed", body = Written<CoupleSettingsOut>),
        (status = 404, description = "`couple_not_found`: the caller is in none", body = Problem),
        (status = 422, description = "`invalid_value`: not an IANA time zone; `started_on_in_future`", body = Problem),
        (status = 429, description = "`rate_limited`: the caller's commands per minute used up", body = Problem),
    ),
    security(("bearer" = [])),
)]
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
#[utoipa::path(
    delete,
    path = "/couples/me",
    operation_id = "dissolve_my_couple",
    tag = "couples",
    summary = "Unmatch: the couple ends and its room becomes read-only",
    responses(
        (status = 200, description = "Dissolved", body = Written<DissolvedCouple>),
        (status = 403, description = "`left_room`: the caller left the couple's room (join it again first)", body = Problem),
        (status = 404, description = "`couple_not_found`: the caller is in none", body = Problem),
        (status = 429, description = "`rate_limited`: the caller's commands per minute used up", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn dissolve(actor: Actor) -> Result<Written<DissolvedCouple>, ApiError> {
    let couple_id = actor.commands.couple_of(actor.user_id).await?.couple_id;
    let position = actor.commands.dissolve_couple(actor.user_id).await?;
    let out = DissolvedCouple {
        couple_id,
        dissolved: true,
    };
    Ok(Written::ok(out, position))
}
