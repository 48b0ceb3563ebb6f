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
use projections::frames::Problem;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{client, tokens, Tokens};
use super::Written;
use crate::error::ApiError;
use crate::extract::{Actor, Json, Path, Query};
use crate::oauth::ProviderUser;
use crate::request_id::RequestId;
use crate::security::ClientIp;
use crate::state::AppState;

/// Where the provider sends the user back.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StartQuery {
    /// One of the deployment's allowed addresses (`MOIM_OAUTH_REDIRECT_URIS`), exactly.
    redirect_uri: String,
}

/// `GET /auth/oauth/{provider}/start?redirect_uri=`: 302 to the provider, with `state` and a
/// PKCE challenge; `redirect_uri` must be allowed (`MOIM_OAUTH_REDIRECT_URIS`).
#[utoipa::path(
    get,
    path = "/auth/oauth/{provider}/start",
    operation_id = "start_oauth",
    tag = "oauth",
    summary = "Begin a web sign-in: redirects to the provider",
    params(
        ("provider" = String, Path, description = "A provider set up on this deployment, e.g. `kakao`, `naver`"),
        StartQuery,
    ),
    responses(
        (status = 302, description = "To the provider's authorization page, with `state` and a PKCE challenge; it returns to `redirect_uri` with `code` and `state`",
            headers(("Location" = String, description = "The provider's authorization address"))),
        (status = 400, description = "`bad_redirect_uri`: not one this deployment allows", body = Problem),
        (status = 404, description = "`unknown_provider`", body = Problem),
        (status = 429, description = "`rate_limited`: sign-in starts from this address used up", body = Problem),
    ),
)]
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

/// What the provider sent back to `redirect_uri`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Callback {
    /// The provider's authorization code.
    code: String,
    /// The `state` the sign-in began with (used once, for 10 minutes).
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
#[utoipa::path(
    get,
    path = "/auth/oauth/{provider}/callback",
    operation_id = "finish_oauth",
    tag = "oauth",
    summary = "Finish a web sign-in: the token pair of the user the provider vouches for",
    params(
        ("provider" = String, Path, description = "The provider the sign-in began with"),
        Callback,
    ),
    responses(
        (status = 200, description = "Signed in: a new session of a known user", body = Written<Tokens>),
        (status = 201, description = "Signed up: the provider's user is new to Moim", body = Written<Tokens>),
        (status = 400, description = "`bad_state`: unknown, used, too old or another provider's; `bad_code`: the provider refused the code", body = Problem),
        (status = 401, description = "`bad_provider_token`: the provider did not say who the user is", body = Problem),
        (status = 403, description = "`account_suspended` (`until`)", body = Problem),
        (status = 404, description = "`unknown_provider`", body = Problem),
        (status = 409, description = "`identity_taken`", body = Problem),
        (status = 503, description = "`upstream_unavailable`: the provider did not answer", body = Problem),
    ),
)]
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

/// An access token the provider's SDK gave the app.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderToken {
    /// The provider's access token.
    access_token: String,
}

/// `POST /auth/oauth/{provider}/token` `{access_token}`: the mobile flow — the provider's SDK
/// signed the user in, and Moim asks the provider whose token it is.
#[utoipa::path(
    post,
    path = "/auth/oauth/{provider}/token",
    operation_id = "sign_in_with_provider_token",
    tag = "oauth",
    summary = "Sign in with a provider's access token (mobile)",
    params(("provider" = String, Path, description = "A provider set up on this deployment, e.g. `kakao`, `naver`")),
    request_body = ProviderToken,
    responses(
        (status = 200, description = "Signed in: a new session of a known user", body = Written<Tokens>),
        (status = 201, description = "Signed up: the provider's user is new to Moim", body = Written<Tokens>),
        (status = 401, description = "`bad_provider_token`: the provider refused the token, or did not say whose it is", body = Problem),
        (status = 403, description = "`account_suspended` (`until`)", body = Problem),
        (status = 404, description = "`unknown_provider`", body = Problem),
        (status = 409, description = "`identity_taken`", body = Problem),
        (status = 429, description = "`rate_limited`: social sign-ins from this address used up", body = Problem),
        (status = 503, description = "`upstream_unavailable`: the provider did not answer", body = Problem),
    ),
)]
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

/// Proof that the caller is a user of the provider: an SDK's access token, or a web flow's
/// callback parameters.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Proof {
    /// The mobile flow's access token.
    Token {
        /// The provider's access token.
        access_token: String,
    },
    /// The web flow's callback parameters.
    Code {
        /// The provider's authorization code.
        code: String,
        /// The `state` of a flow begun at `/auth/oauth/{provider}/start`.
        state: String,
    },
}

/// A provider linked to the caller's account.
#[derive(Serialize, ToSchema)]
pub struct IdentityLink {
    /// The provider.
    provider: String,
    /// Always `true`.
    linked: bool,
}

/// `POST /users/me/identities/{provider}` `{access_token}` or `{code, state}`: the caller may
/// sign in through `provider` too.
#[utoipa::path(
    post,
    path = "/users/me/identities/{provider}",
    operation_id = "link_identity",
    tag = "oauth",
    summary = "Let the caller sign in through a provider too",
    params(("provider" = String, Path, description = "A provider set up on this deployment, e.g. `kakao`, `naver`")),
    request_body = Proof,
    responses(
        (status = 200, description = "Linked (or already so)", body = Written<IdentityLink>),
        (status = 400, description = "`bad_state`, `bad_code` (the web flow's proof)", body = Problem),
        (status = 401, description = "`bad_provider_token`: the provider refused the token, or did not say whose it is", body = Problem),
        (status = 404, description = "`unknown_provider`, `user_not_found`", body = Problem),
        (status = 409, description = "`identity_linked`: another login of this provider is linked; `identity_taken`: this one is another account's", body = Problem),
        (status = 429, description = "`rate_limited`: the caller's commands per minute used up", body = Problem),
        (status = 503, description = "`upstream_unavailable`: the provider did not answer", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn link(
    State(state): State<AppState>,
    actor: Actor,
    Path(provider): Path<String>,
    Json(proof): Json<Proof>,
) -> Result<Written<IdentityLink>, ApiError> {
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
    let linked = IdentityLink {
        provider,
        linked: true,
    };
    Ok(Written::ok(linked, position))
}

/// `DELETE /users/me/identities/{provider}`: never the caller's last way to sign in.
#[utoipa::path(
    delete,
    path = "/users/me/identities/{provider}",
    operation_id = "unlink_identity",
    tag = "oauth",
    summary = "Stop the caller signing in through a provider",
    params(("provider" = String, Path, description = "The provider")),
    responses(
        (status = 204, description = "Unlinked"),
        (status = 404, description = "`identity_not_found`: no login of this provider is linked; `user_not_found`", body = Problem),
        (status = 409, description = "`last_sign_in_method`: the caller would have no way left to sign in", body = Problem),
        (status = 429, description = "`rate_limited`: the caller's commands per minute used up", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn unlink(actor: Actor, Path(provider): Path<String>) -> Result<StatusCode, ApiError> {
    actor
        .commands
        .unlink_identity(actor.user_id, &provider)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
