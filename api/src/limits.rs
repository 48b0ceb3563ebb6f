//! Per-request bounds: at most `max_in_flight` requests are handled at once (one more gets a
//! `503 overloaded` at once, and everyone already inside notices nothing), and a request body
//! must arrive within `body_timeout` (else `408 request_timeout`) and be at most `max_body_bytes`
//! (else `413 body_too_large`). The body is read here, before the handler runs, so a slow client
//! holds no handler, and a handler is never cut off half-way (a command that committed always
//! answers). Together with the connection limits in `server.rs` they keep a slow or greedy
//! client from holding tasks, memory and database connections without bound.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tokio::sync::Semaphore;

use crate::error::ApiError;
use crate::security::{self, ClientIp};

/// The shared per-request bounds.
#[derive(Clone)]
pub struct RequestLimits {
    in_flight: Arc<Semaphore>,
    body_timeout: Duration,
    max_body_bytes: usize,
    upload_body_bytes: usize,
}

/// The one route whose body is streamed to its handler rather than read here: a photo upload is
/// larger than any other body, and its handler stops reading at the first byte over its limit.
const UPLOAD_PATH: &str = "/api/v1/media";

/// Room for a multipart envelope around an upload (boundaries, part headers).
pub const UPLOAD_ENVELOPE_BYTES: usize = 16 * 1024;

impl RequestLimits {
    /// At most `max_in_flight` at once, each body within `body_timeout` and `max_body_bytes`.
    pub fn new(max_in_flight: usize, body_timeout: Duration, max_body_bytes: usize) -> Self {
        Self {
            in_flight: Arc::new(Semaphore::new(max_in_flight.max(1))),
            body_timeout,
            max_body_bytes,
            upload_body_bytes: max_body_bytes,
        }
    }

    /// Streams `POST /api/v1/media` bodies of up to `max_file_bytes` (plus a multipart
    /// envelope) to their handler, which bounds their time and size itself.
    pub fn streaming_uploads(mut self, max_file_bytes: usize) -> Self {
        self.upload_body_bytes = max_file_bytes + UPLOAD_ENVELOPE_BYTES;
        self
    }
}

/// Middleware applying [`RequestLimits`].
pub async fn bound(State(limits): State<RequestLimits>, request: Request, next: Next) -> Response {
    let Ok(_permit) = limits.in_flight.clone().try_acquire_owned() else {
        security::overloaded(ClientIp::of(request.extensions()), "requests in flight");
        return ApiError::unavailable("overloaded", "too many requests at once; try again", 1)
            .into_response();
    };
    let (parts, body) = request.into_parts();
    if parts.method == axum::http::Method::POST && parts.uri.path() == UPLOAD_PATH {
        let body = Body::new(Limited::new(body, limits.upload_body_bytes));
        return next.run(Request::from_parts(parts, body)).await;
    }
    let limited = Limited::new(body, limits.max_body_bytes);
    let body = match tokio::time::timeout(limits.body_timeout, limited.collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(error)) if error.downcast_ref::<LengthLimitError>().is_some() => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the body is larger than {} bytes", limits.max_body_bytes),
            )
            .into_response();
        }
        Ok(Err(_)) => {
            return ApiError::bad_request("bad_body", "the request body could not be read")
                .into_response();
        }
        Err(_) => {
            return ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!(
                    "the request body did not arrive within {} s",
                    limits.body_timeout.as_secs()
                ),
            )
            .into_response();
        }
    };
    next.run(Request::from_parts(parts, Body::from(body))).await
}
