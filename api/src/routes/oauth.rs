//! Social login routes: the web flow (`start` → the provider → `callback`), the mobile flow
//! (`token`: an access token from the provider's SDK), and linking or unlinking a provider.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use commands::identities::PendingFlow;
use commands::rates::Counted;
use domain::session::SignIn;
use domain::values::DisplayName;
use domain::Metadata;
use serde::{Deserialize, Serialize};

use super::auth::{client, tokens, Tokens};
use super::Written;
use crate::error::ApiError;
use crate::extract::{Actor, Json, Path, Query};
use crate::oauth::ProviderUser;
use crate::request_id::RequestId;
use crate::security::ClientIp;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartQuery {
    redirect_uri: String,
}

/// `GET /auth/oauth/{provider}/start?redirect_uri=`: 302 to the provider, with `state` and a
/// PKCE challenge; `redirect_uri` must be allowed (`MOIM_OAUTH_REDIRECT_URIS`).
pub async fn start(
    State(state): State<AppState>,
    ip: ClientIp,
    Path(provider): Path<String>,
    Query(query): Query<StartQuery>,
) -> Result<Response, ApiError> {
    state
        .limit(Counted::OAuthStart(ip.0), ip, None, "social login starts")
        .await?;
    let started = state.oauth.start(&provider, &query.redirect_uri)?;
    let flow = PendingFlow {
        provider,
        redirect_uri: query.redirect_uri,
        pkce_verifier: started.pkce_verifier,
    };
    state
        .commands
        .save_oauth_state(&started.state, &flow)
        .await?;
    Ok((
        StatusCode::FOUND,
        [(header::LOCATION, started.authorize_url)],
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Callback {
    code: String,
    state: String,
}

/// The provider's access token of a web flow's callback; a `state` that is unknown, used, too
/// old or another provider's is `400 bad_state`.
async fn finish_web_flow(
    state: &AppState,
    provider: &str,
    callback: &Callback,
) -> Result<String, ApiError> {
    let flow = state
        .commands
        .take_oauth_state(&callback.state)
        .await?
        .filter(|flow| flow.provider == provider)
        .ok_or_else(|| {
            ApiError::bad_request(
                "bad_state",
                "this sign-in's state is unknown or used; start again",
            )
        })?;
    state
        .oauth
        .exchange(
            provider,
            &callback.code,
            &flow.redirect_uri,
            &flow.pkce_verifier,
        )
        .await
}

/// `GET /auth/oauth/{provider}/callback?code=&state=`: the token pair of the user the provider
/// vouches for, made on their first sign-in (201) or found again (200).
pub async fn callback(
    State(state): State<AppState>,
    request_id: RequestId,
    ip: ClientIp,
    headers: HeaderMap,
    Path(provider): Path<String>,
    Query(query): Query<Callback>,
) -> Result<Written<Tokens>, ApiError> {
    let access_token = finish_web_flow(&state, &provider, &query).await?;
    sign_in(&state, &request_id, ip, &headers, &provider, &access_token).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderToken {
    access_token: String,
}

/// `POST /auth/oauth/{provider}/token` `{access_token}`: the mobile flow — the provider's SDK
/// signed the user in, and Moim asks the provider whose token it is.
pub async fn token(
    State(state): State<AppState>,
    request_id: RequestId,
    ip: ClientIp,
    headers: HeaderMap,
    Path(provider): Path<String>,
    Json(body): Json<ProviderToken>,
) -> Result<Written<Tokens>, ApiError> {
    state
        .limit(Counted::OAuthStart(ip.0), ip, None, "social logins")
        .await?;
    sign_in(
        &state,
        &request_id,
        ip,
        &headers,
        &provider,
        &body.access_token,
    )
    .await
}

async fn sign_in(
    state: &AppState,
    request_id: &RequestId,
    ip: ClientIp,
    headers: &HeaderMap,
    provider: &str,
    access_token: &str,
) -> Result<Written<Tokens>, ApiError> {
    let user = state.oauth.user(provider, access_token).await?;
    let name = display_name(provider, &user)?;
    let commands = state
        .commands
        .on_behalf(Metadata::request(None, request_id.as_str()));
    let signed_in = commands
        .social_sign_in(provider, &user.subject, name)
        .await?;
    let grant = commands
        .on_behalf(Metadata::request(
            Some(signed_in.user_id),
            request_id.as_str(),
        ))
        .start_session(signed_in.user_id, SignIn::Social, client(headers, ip))
        .await?;
    let tokens = tokens(state, grant)?;
    Ok(if signed_in.created {
        Written::created(tokens, grant.position)
    } else {
        Written::ok(tokens, grant.position)
    })
}

/// The provider's name for the user, made to fit; a generic one when it has none that fits.
fn display_name(provider: &str, user: &ProviderUser) -> Result<DisplayName, ApiError> {
    let given = user
        .name
        .as_deref()
        .map(|name| name.chars().take(50).collect::<String>())
        .and_then(|name| DisplayName::parse(&name).ok());
    match given {
        Some(name) => Ok(name),
        None => Ok(DisplayName::parse(&format!("{provider} user"))?),
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
pub enum Proof {
    /// The mobile flow's access token.
    Token { access_token: String },
    /// The web flow's callback parameters.
    Code { code: String, state: String },
}

#[derive(Serialize)]
pub struct Linked {
    provider: String,
    linked: bool,
}

/// `POST /users/me/identities/{provider}` `{access_token}` or `{code, state}`: the caller may
/// sign in through `provider` too.
pub async fn link(
    State(state): State<AppState>,
    actor: Actor,
    Path(provider): Path<String>,
    Json(proof): Json<Proof>,
) -> Result<Written<Linked>, ApiError> {
    let access_token = match proof {
        Proof::Token { access_token } => access_token,
        Proof::Code { code, state: flow } => {
            let callback = Callback { code, state: flow };
            finish_web_flow(&state, &provider, &callback).await?
        }
    };
    let user = state.oauth.user(&provider, &access_token).await?;
    let position = actor
        .commands
        .link_identity(actor.user_id, &provider, &user.subject)
        .await?;
    let linked = Linked {
        provider,
        linked: true,
    };
    Ok(Written::ok(linked, position))
}

/// `DELETE /users/me/identities/{provider}`: never the caller's last way to sign in.
pub async fn unlink(actor: Actor, Path(provider): Path<String>) -> Result<StatusCode, ApiError> {
    actor
        .commands
        .unlink_identity(actor.user_id, &provider)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
