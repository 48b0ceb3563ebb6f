//! Couple invites and matching.

use axum::extract::State;
use chrono::{DateTime, Utc};
use commands::CommandError;
use domain::values::InviteCode;
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
    since: DateTime<Utc>,
}

#[derive(Serialize)]
pub struct Mine {
    couple: Option<Couple>,
    open_invites: Vec<OpenInvite>,
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

/// `GET /couples/me`: the caller's couple (or null) and open invites.
pub async fn mine(
    State(state): State<AppState>,
    AuthUser(user_id): AuthUser,
    consistency: Option<Consistency>,
) -> Result<Json<Mine>, ApiError> {
    state.caught_up(VIEW, consistency).await?;
    let couple = projections::couples::couple_of(&state.pool, user_id).await?;
    let open_invites = projections::couples::open_invites(&state.pool, user_id).await?;
    Ok(Json(Mine {
        couple,
        open_invites,
    }))
}
