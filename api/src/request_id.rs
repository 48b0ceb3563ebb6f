//! Request ids: every request gets one, so a user's report ("error … request id X") can be found
//! in the logs, and so the events a request writes can name it as their correlation id.
//!
//! A sane incoming `X-Request-Id` (from a proxy or the client: up to 64 letters, digits, `-`, `_`,
//! `.`) is kept; anything else is replaced by a fresh UUID. The id is returned as a header, is
//! on the request's log span, and is known to [`current`] while the request is handled, which is
//! how an error answer puts it in its problem+json body.
//!
//! A socket's frames are answered long after its upgrade request ended, so a socket has an id of
//! its own (`ws-…`, `sio-…`), known the same way for as long as it lives: its error frames, the
//! log lines of its refusals and failures, and the events its frames write name it.

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use uuid::Uuid;

/// The header.
pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static CURRENT: RequestId;
}

/// One request's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub(crate) String);

impl RequestId {
    /// The incoming id when it is sane, else a new one.
    fn from_header(value: Option<&HeaderValue>) -> Self {
        value
            .and_then(|v| v.to_str().ok())
            .filter(|v| is_sane(v))
            .map_or_else(|| Self(Uuid::now_v7().to_string()), |v| Self(v.to_owned()))
    }

    /// A new id for a socket of `kind` (`ws`, `sio`).
    pub(crate) fn for_socket(kind: &str) -> Self {
        Self(format!("{kind}-{}", Uuid::now_v7()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_sane(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The id of the request being handled on this task, if any.
pub fn current() -> Option<RequestId> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Runs `work` (a socket's) with `id` known to [`current`].
pub(crate) async fn within<F: std::future::Future>(id: RequestId, work: F) -> F::Output {
    CURRENT.scope(id, work).await
}

/// Middleware: gives the request its id, runs it with the id known, returns the id as a header.
pub async fn assign(mut request: Request, next: Next) -> Response {
    let id = RequestId::from_header(request.headers().get(HEADER));
    let value = HeaderValue::from_str(id.as_str()).ok();
    if let Some(value) = &value {
        request.headers_mut().insert(HEADER, value.clone());
    }
    request.extensions_mut().insert(id.clone());
    let mut response = CURRENT.scope(id, next.run(request)).await;
    if let Some(value) = value {
        response.headers_mut().insert(HEADER, value);
    }
    response
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId::from_header(None)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_ids_are_kept_and_others_replaced() {
        let keep = HeaderValue::from_static("abc-123_x.y");
        assert_eq!(RequestId::from_header(Some(&keep)).as_str(), "abc-123_x.y");
        for bad in ["", "has space", "semi;colon", &"x".repeat(65)] {
            let value = HeaderValue::from_str(bad).ok();
            let id = RequestId::from_header(value.as_ref());
            assert_ne!(id.as_str(), bad);
            assert!(Uuid::parse_str(id.as_str()).is_ok());
        }
    }
}
