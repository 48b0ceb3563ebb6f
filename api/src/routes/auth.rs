//! Registration, login and token refresh.

use axum::extract::State;
use commands::CommandError;
use domain::values::{DisplayName, Email, Password};
use domain::{Metadata, Position};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Written;
use crate::error::ApiError;
use crate::extract::Json;
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
    token_type: &'static str,
    expires_in: u64,
}

async fn tokens(state: &AppState, user_id: Uuid) -> Result<Tokens, ApiError> {
    let refresh = state.keys.refresh(user_id)?;
    state
        .commands
        .issue_refresh_token(refresh.jti, user_id, refresh.expires_at)
        .await?;
    Ok(Tokens {
        user_id,
        access_token: state.keys.access(user_id)?,
        refresh_token: refresh.token,
        token_type: "Bearer",
        expires_in: state.keys.access_ttl_secs(),
    })
}

/// `POST /auth/register`.
#[tracing::instrument(skip_all)]
pub async fn register(
    State(state): State<AppState>,
    request_id: RequestId,
    ip: ClientIp,
    Json(body): Json<Register>,
) -> Result<Written<Tokens>, ApiError> {
    let email = Email::parse(&body.email)?;
    let password = Password::parse(&body.password)?;
    let name = DisplayName::parse(&body.display_name)?;
    let (user_id, position) = state
        .commands
        .on_behalf(Metadata::request(None, request_id.as_str()))
        .register(email, password, name)
        .await
        .inspect_err(|error| {
            if matches!(error, CommandError::Overloaded { .. }) {
                security::overloaded(ip, "password hashing");
            }
        })?;
    Ok(Written::created(tokens(&state, user_id).await?, position))
}

/// `POST /auth/login`.
#[tracing::instrument(skip_all)]
pub async fn login(
    State(state): State<AppState>,
    ip: ClientIp,
    Json(body): Json<Login>,
) -> Result<Written<Tokens>, ApiError> {
    let user_id = match state.commands.login(&body.email, body.password).await {
        Ok(user_id) => user_id,
        Err(error) => {
            match &error {
                CommandError::BadCredentials { user_id } => security::login_failed(ip, *user_id),
                CommandError::Overloaded { .. } => security::overloaded(ip, "password hashing"),
                _ => {}
            }
            return Err(error.into());
        }
    };
    Ok(Written::ok(tokens(&state, user_id).await?, Position::START))
}

/// `POST /auth/refresh`: the old refresh token is used up, a new pair is issued.
#[tracing::instrument(skip_all)]
pub async fn refresh(
    State(state): State<AppState>,
    ip: ClientIp,
    Json(body): Json<Refresh>,
) -> Result<Written<Tokens>, ApiError> {
    let (user_id, jti) = state.keys.verify_refresh(&body.refresh_token)?;
    match state.commands.consume_refresh_token(jti).await? {
        Some(owner) if owner == user_id => {
            Ok(Written::ok(tokens(&state, user_id).await?, Position::START))
        }
        _ => {
            // Validly signed and unexpired, yet spent: someone is replaying it.
            security::refresh_token_reused(ip, user_id);
            Err(ApiError::unauthorized(
                "refresh_token_used",
                "this refresh token was used or revoked",
            ))
        }
    }
}
