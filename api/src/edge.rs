//! What every answer carries and every request is first read for, whatever the route: the
//! client's address (from `X-Forwarded-For` only behind a configured proxy), security headers,
//! and CORS for the configured browser origins.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::extract::CONSISTENCY_HEADER;
use crate::request_id;
use crate::security::ClientIp;

/// How a deployment's edge is set up.
#[derive(Debug, Clone, Default)]
pub struct Edge {
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<[IpAddr]>,
    /// Origins browsers may call from (none: no CORS headers).
    pub cors_origins: Vec<HeaderValue>,
}

/// Puts the client's address in the request: the TCP peer, or — when the peer is a trusted
/// proxy — the last address in `X-Forwarded-For` that is not itself a trusted proxy (earlier
/// ones were written by the client and prove nothing).
pub async fn client_ip(State(edge): State<Edge>, mut request: Request, next: Next) -> Response {
    let peer = ClientIp::of(request.extensions());
    let ip = if edge.trusted_proxies.contains(&peer.0) {
        forwarded_for(request.headers(), &edge.trusted_proxies).unwrap_or(peer)
    } else {
        peer
    };
    request.extensions_mut().insert(ip);
    next.run(request).await
}

fn forwarded_for(headers: &axum::http::HeaderMap, trusted: &[IpAddr]) -> Option<ClientIp> {
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|hop| hop.trim().parse().ok())
        .collect::<Option<Vec<IpAddr>>>()?;
    hops.into_iter()
        .rev()
        .find(|hop| !trusted.contains(hop))
        .map(ClientIp)
}

/// Adds the security headers to every answer (`no-store` on what is personal: the auth
/// answers, and everything else unless a route says otherwise), and CORS when configured.
pub fn layer<S: Clone + Send + Sync + 'static>(router: Router<S>, edge: &Edge) -> Router<S> {
    let router = router
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        // Only the API documents' browsable UI says otherwise (`openapi::documents`).
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    if edge.cors_origins.is_empty() {
        return router;
    }
    router.layer(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(edge.cors_origins.clone()))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static(CONSISTENCY_HEADER),
                HeaderName::from_static(request_id::HEADER),
            ])
            .expose_headers([
                HeaderName::from_static(CONSISTENCY_HEADER),
                HeaderName::from_static(request_id::HEADER),
                header::RETRY_AFTER,
            ])
            .max_age(std::time::Duration::from_secs(600)),
    )
}
