//! Per-request bounds: at most `max_in_flight` requests are handled at once (one more gets a
//! `503 overloaded` at once, and everyone already inside notices nothing), and a request has
//! `request_timeout` to send its body and be answered (then `408 request_timeout`). Together with
//! the connection limits in `server.rs` they keep a slow or greedy client from holding tasks,
//! memory and database connections without bound.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use crate::error::ApiError;
use crate::security::{self, ClientIp};

/// The shared per-request bounds.
#[derive(Clone)]
pub struct RequestLimits {
    in_flight: Arc<Semaphore>,
    timeout: Duration,
}

impl RequestLimits {
    /// At most `max_in_flight` at once, each answered within `timeout`.
    pub fn new(max_in_flight: usize, timeout: Duration) -> Self {
        Self {
            in_flight: Arc::new(Semaphore::new(max_in_flight.max(1))),
            timeout,
        }
    }
}

/// Middleware applying [`RequestLimits`].
pub async fn bound(State(limits): State<RequestLimits>, request: Request, next: Next) -> Response {
    let Ok(_permit) = limits.in_flight.clone().try_acquire_owned() else {
        security::overloaded(ClientIp::of(request.extensions()), "requests in flight");
        return ApiError::unavailable("overloaded", "too many requests at once; try again", 1)
            .into_response();
    };
    match tokio::time::timeout(limits.timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the request was not sent and answered within {} s",
                limits.timeout.as_secs()
            ),
        )
        .into_response(),
    }
}
