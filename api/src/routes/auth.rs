//! Registration, login, token refresh, logout, and the caller's sessions.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use commands::rates::Counted;
use commands::sessions::{Client, Grant};
use commands::CommandError;
use domain::session::SignIn;
use domain::user::SessionsEndReason;
use domain::values::{DisplayName, Email, Password};
use domain::Metadata;
use projections::users;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Written;
use crate::error::ApiError;
use crate::extract::{Actor, Caller, Consistency, Json, Path, Query};
use crate::request_id::RequestId;
use crate::security::{self, ClientIp};
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Register {
    email: String,
    password: String,
    display_name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    email: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refresh {
    refresh_token: String,
}

#[derive(Serialize)]
pub struct Tokens {
    user_id: Uuid,
    access_token: String,
    refresh_token: String,
    session_id: Uuid,
    token_type: &'static str,
    expires_in: u64,
}

pub(super) fn tokens(state: &AppState, grant: Grant) -> Result<Tokens, ApiError> {
    Ok(Tokens {
        user_id: grant.user_id,
        session_id: grant.session_id,
        access_token: state
            .keys
            .access(grant.user_id, grant.session_id, grant.generation)?,
        refresh_token: state
            .keys
            .refresh(grant.user_id, grant.session_id, grant.refresh_jti)?,
        token_type: "Bearer",
        expires_in: state.keys.access_ttl_secs(),
    })
}

/// Where a sign-in came from.
pub(super) fn client(headers: &HeaderMap, ip: ClientIp) -> Client {
    Client {
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        ip: Some(ip.0.to_string()),
    }
}

/// `POST /auth/register`.
#[tracing::instrument(skip_all)]
pub async fn register(
    State(state): State<AppState>,
    request_id: RequestId,
    ip: ClientIp,
    headers: HeaderMap,
    Json(body): Json<Register>,
) -> Result<Written<Tokens>, ApiError> {
    let email = Email::parse(&body.email)?;
    let password = Password::parse(&body.password)?;
    let name = DisplayName::parse(&body.display_name)?;
    state
        .limit(Counted::Register(ip.0), ip, None, "registrations")
        .await?;
    let commands = state
        .commands
        .on_behalf(Metadata::request(None, request_id.as_str()));
    let (user_id, _) = commands
        .register(email, password, name)
        .await
        .inspect_err(|error| {
            if matches!(error, CommandError::Overloaded { .. }) {
                security::overloaded(ip, "password hashing");
            }
        })?;
    let grant = commands
        .on_behalf(Metadata::request(Some(user_id), request_id.as_str()))
        .start_session(user_id, SignIn::Register, client(&headers, ip))
        .await?;
    Ok(Written::created(tokens(&state, grant)?, grant.position))
}

/// `POST /auth/login`.
#[tracing::instrument(skip_all)]
pub async fn login(
    State(state): State<AppState>,
    request_id: RequestId,
    ip: ClientIp,
    headers: HeaderMap,
    Json(body): Json<Login>,
) -> Result<Written<Tokens>, ApiError> {
    let user_id = match state.commands.login(&body.email, body.password, ip.0).await {
        Ok(user_id) => user_id,
        Err(error) => {
            match &error {
                CommandError::BadCredentials { user_id } => security::login_failed(ip, *user_id),
                CommandError::Overloaded { .. } => security::overloaded(ip, "password hashing"),
                CommandError::RateLimited { .. } => security::rate_limited(ip, None, "logins"),
                _ => {}
            }
            return Err(error.into());
        }
    };
    let grant = state
        .commands
        .on_behalf(Metadata::request(Some(user_id), request_id.as_str()))
        .start_session(user_id, SignIn::Password, client(&headers, ip))
        .await?;
    Ok(Written::ok(tokens(&state, grant)?, grant.position))
}

/// `POST /auth/refresh`: the refresh token rotates; a spent one ends its whole session.
#[tracing::instrument(skip_all)]
pub async fn refresh(
    State(state): State<AppState>,
    request_id: RequestId,
    ip: ClientIp,
    Json(body): Json<Refresh>,
) -> Result<Written<Tokens>, ApiError> {
    let (user_id, session_id, jti) = state.keys.verify_refresh(&body.refresh_token)?;
    state
        .limit(Counted::Refresh(session_id), ip, Some(user_id), "refreshes")
        .await?;
    let grant = state
        .commands
        .on_behalf(Metadata::request(Some(user_id), request_id.as_str()))
        .refresh_session(user_id, session_id, jti)
        .await
        .inspect_err(|error| {
            if matches!(
                error,
                CommandError::Rejected {
                    code: "refresh_token_reused",
                    ..
                }
            ) {
                security::refresh_token_reused(ip, user_id);
            }
        })?;
    Ok(Written::ok(tokens(&state, grant)?, grant.position))
}

/// `POST /auth/logout` `{refresh_token}`: ends that token's session.
#[tracing::instrument(skip_all)]
pub async fn logout(
    State(state): State<AppState>,
    actor: Actor,
    Json(body): Json<Refresh>,
) -> Result<StatusCode, ApiError> {
    let (user_id, session_id, _) = state.keys.verify_refresh(&body.refresh_token)?;
    if user_id != actor.user_id {
        return Err(ApiError::not_found(
            "session_not_found",
            "no such session of yours",
        ));
    }
    actor.commands.end_session(user_id, session_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /auth/logout-all`: ends every session of the caller.
#[tracing::instrument(skip_all)]
pub async fn logout_all(actor: Actor) -> Result<StatusCode, ApiError> {
    actor
        .commands
        .end_sessions(actor.user_id, None, SessionsEndReason::LogoutAll)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionsQuery {
    cursor: Option<Uuid>,
    limit: Option<i64>,
}

#[derive(Serialize)]
pub struct Sessions {
    sessions: Vec<SessionOut>,
    /// The `cursor` of the next (older) page, if there may be one.
    next_cursor: Option<Uuid>,
}

#[derive(Serialize)]
pub struct SessionOut {
    id: Uuid,
    created_at: DateTime<Utc>,
    last_used_at: DateTime<Utc>,
    user_agent: Option<String>,
    ip: Option<String>,
    /// Whether it is the session of the token that asks.
    current: bool,
}

/// `GET /auth/sessions`: the caller's live sessions, newest first, `current` marking this one.
pub async fn sessions(
    State(state): State<AppState>,
    Caller(access): Caller,
    consistency: Option<Consistency>,
    Query(query): Query<SessionsQuery>,
) -> Result<Json<Sessions>, ApiError> {
    let limit = super::page_limit(query.limit)?;
    state.caught_up(users::VIEW, consistency).await?;
    let rows = users::live_sessions(&state.pool, access.user_id, query.cursor, limit).await?;
    let next_cursor = super::next_cursor(&rows, limit, |s| s.session_id);
    Ok(Json(Sessions {
        sessions: rows
            .into_iter()
            .map(|s| SessionOut {
                current: s.session_id == access.session_id,
                id: s.session_id,
                created_at: s.created_at,
                last_used_at: s.last_used_at,
                user_agent: s.user_agent,
                ip: s.ip,
            })
            .collect(),
        next_cursor,
    }))
}

/// `DELETE /auth/sessions/{id}`: ends one of the caller's sessions (anyone else's: 404).
pub async fn end_session(
    actor: Actor,
    Path(session_id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    actor
        .commands
        .end_session(actor.user_id, session_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
