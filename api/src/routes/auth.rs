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
use projections::frames::Problem;
use projections::users;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::Written;
use crate::error::ApiError;
use crate::extract::{Actor, Caller, Consistency, Json, Path, Query};
use crate::request_id::RequestId;
use crate::security::{self, ClientIp};
use crate::state::AppState;

/// A new account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Register {
    /// The login e-mail (at most 254 characters; lower-cased; must be new).
    #[schema(max_length = 254, format = Email)]
    email: String,
    /// 8 to 128 characters.
    #[schema(min_length = 8, max_length = 128)]
    password: String,
    /// How others see the user (1 to 50 characters, trimmed, no control characters).
    #[schema(min_length = 1, max_length = 50)]
    display_name: String,
}

/// An e-mail and password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// The login e-mail.
    email: String,
    /// The password.
    password: String,
}

/// A refresh token.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Refresh {
    /// The session's current refresh token.
    refresh_token: String,
}

/// A session's token pair.
#[derive(Serialize, ToSchema)]
pub struct Tokens {
    /// Whose.
    user_id: Uuid,
    /// The access token: send it as `Authorization: Bearer <token>`.
    access_token: String,
    /// The refresh token: trade it at `POST /auth/refresh` for a new pair (once).
    refresh_token: String,
    /// The session both belong to.
    session_id: Uuid,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    token_type: &'static str,
    /// Seconds the access token lives.
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
#[utoipa::path(
    post,
    path = "/auth/register",
    operation_id = "register",
    tag = "auth",
    summary = "Create an account and sign in",
    request_body = Register,
    responses(
        (status = 201, description = "Registered and signed in", body = Written<Tokens>),
        (status = 409, description = "`email_taken`", body = Problem),
        (status = 422, description = "`invalid_value`: an e-mail, password or display name that breaks its rules", body = Problem),
        (status = 429, description = "`rate_limited`: registrations from this address used up", body = Problem),
    ),
)]
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
#[utoipa::path(
    post,
    path = "/auth/login",
    operation_id = "login",
    tag = "auth",
    summary = "Sign in with an e-mail and password",
    request_body = Login,
    responses(
        (status = 200, description = "Signed in: a new session", body = Written<Tokens>),
        (status = 401, description = "`bad_credentials`: wrong e-mail or password", body = Problem),
        (status = 403, description = "`account_suspended` (`until`)", body = Problem),
        (status = 429, description = "`rate_limited`: too many failed logins for this account or address", body = Problem),
    ),
)]
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
#[utoipa::path(
    post,
    path = "/auth/refresh",
    operation_id = "refresh_tokens",
    tag = "auth",
    summary = "Trade a refresh token for a new token pair",
    request_body = Refresh,
    responses(
        (status = 200, description = "The session's new pair (the old refresh token is spent)", body = Written<Tokens>),
        (status = 401, description = "`bad_token`, `token_expired`, `session_revoked`, `refresh_token_reused`: a spent token was used again, and its session has ended", body = Problem),
        (status = 403, description = "`account_suspended` (`until`)", body = Problem),
        (status = 429, description = "`rate_limited`: refreshes of this session used up", body = Problem),
    ),
)]
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
#[utoipa::path(
    post,
    path = "/auth/logout",
    operation_id = "logout",
    tag = "auth",
    summary = "End the session of a refresh token",
    request_body = Refresh,
    responses(
        (status = 204, description = "The session has ended (or had already)"),
        (status = 401, description = "`bad_token`, `token_expired`: the refresh token is not valid", body = Problem),
        (status = 404, description = "`session_not_found`: not a session of the caller's", body = Problem),
        (status = 429, description = "`rate_limited`: the caller's commands per minute used up", body = Problem),
    ),
    security(("bearer" = [])),
)]
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
#[utoipa::path(
    post,
    path = "/auth/logout-all",
    operation_id = "logout_everywhere",
    tag = "auth",
    summary = "End every session of the caller (this one too)",
    responses(
        (status = 204, description = "Every session has ended"),
        (status = 404, description = "`user_not_found`: the account was just deleted", body = Problem),
        (status = 429, description = "`rate_limited`: the caller's commands per minute used up", body = Problem),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all)]
pub async fn logout_all(actor: Actor) -> Result<StatusCode, ApiError> {
    actor
        .commands
        .end_sessions(actor.user_id, None, SessionsEndReason::LogoutAll)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A page of the caller's sessions.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SessionsQuery {
    /// The `next_cursor` of the page before.
    cursor: Option<Uuid>,
    /// Sessions per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// A page of the caller's live sessions.
#[derive(Serialize, ToSchema)]
pub struct Sessions {
    /// Newest first.
    sessions: Vec<SessionOut>,
    /// The `cursor` of the next (older) page, if there may be one.
    next_cursor: Option<Uuid>,
}

/// One live session.
#[derive(Serialize, ToSchema)]
pub struct SessionOut {
    /// The session.
    id: Uuid,
    /// When it began.
    created_at: DateTime<Utc>,
    /// When its refresh token was last used.
    last_used_at: DateTime<Utc>,
    /// The client's `User-Agent` at sign-in.
    user_agent: Option<String>,
    /// The client's address at sign-in.
    ip: Option<String>,
    /// Whether it is the session of the token that asks.
    current: bool,
}

/// `GET /auth/sessions`: the caller's live sessions, newest first, `current` marking this one.
#[utoipa::path(
    get,
    path = "/auth/sessions",
    operation_id = "list_sessions",
    tag = "auth",
    summary = "The caller's live sessions, newest first",
    params(SessionsQuery, Consistency),
    responses(
        (status = 200, description = "A page of sessions", body = Sessions),
        (status = 422, description = "`bad_limit`", body = Problem),
        (status = 503, description = "`not_caught_up`: the users view has not reached the consistency token yet", body = Problem),
    ),
    security(("bearer" = [])),
)]
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
#[utoipa::path(
    delete,
    path = "/auth/sessions/{session_id}",
    operation_id = "end_session",
    tag = "auth",
    summary = "End one of the caller's sessions",
    params(("session_id" = Uuid, Path, description = "The session")),
    responses(
        (status = 204, description = "The session has ended (or had already)"),
        (status = 404, description = "`session_not_found`: no such session of the caller's", body = Problem),
        (status = 429, description = "`rate_limited`: the caller's commands per minute used up", body = Problem),
    ),
    security(("bearer" = [])),
)]
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
