//! The security log: attacks an operator should see, as structured records on their own target
//! (`security`; JSON with `MOIM_LOG_FORMAT=json`), each with the client's address, the account
//! when known and the request id. Passwords, tokens and codes are never logged.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use uuid::Uuid;

use crate::request_id;

/// The client's address: as `edge::client_ip` found it (behind a trusted proxy, from
/// `X-Forwarded-For`), else the TCP peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    pub(crate) fn of(extensions: &axum::http::Extensions) -> Self {
        if let Some(&found) = extensions.get::<ClientIp>() {
            return found;
        }
        Self(
            extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip()),
        )
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::of(&parts.extensions))
    }
}

fn request_id() -> String {
    request_id::current()
        .map(|id| id.as_str().to_owned())
        .unwrap_or_default()
}

/// A wrong e-mail or password (`user_id` when the e-mail belongs to someone).
pub fn login_failed(ip: ClientIp, user_id: Option<Uuid>) {
    tracing::warn!(target: "security", event = "login_failed", ip = %ip.0,
        user_id = user_id.map(|u| u.to_string()), request_id = request_id(), "login failed");
}

/// A refresh token presented again after it was used.
pub fn refresh_token_reused(ip: ClientIp, user_id: Uuid) {
    tracing::warn!(target: "security", event = "refresh_token_reused", ip = %ip.0,
        user_id = %user_id, request_id = request_id(), "a spent refresh token was presented");
}

/// A couple code that matched no open invite.
pub fn invite_code_failed(ip: ClientIp, user_id: Uuid) {
    tracing::warn!(target: "security", event = "invite_code_failed", ip = %ip.0,
        user_id = %user_id, request_id = request_id(), "wrong couple code");
}

/// A request refused by a rate limit.
pub fn rate_limited(ip: ClientIp, user_id: Option<Uuid>, limit: &'static str) {
    metrics::counter!("rate_limited_total", "limit" => limit).increment(1);
    tracing::warn!(target: "security", event = "rate_limited", ip = %ip.0,
        user_id = user_id.map(|u| u.to_string()), limit, request_id = request_id(),
        "rate limited");
}

/// A request refused because a bounded resource was full.
pub fn overloaded(ip: ClientIp, what: &'static str) {
    metrics::counter!("overloaded_total", "what" => what).increment(1);
    tracing::warn!(target: "security", event = "overloaded", ip = %ip.0, what,
        request_id = request_id(), "refused: overloaded");
}
