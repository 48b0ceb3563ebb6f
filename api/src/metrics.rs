//! Prometheus metrics through the `metrics` facade: the recorder (one per process, whatever the
//! number of apps a test starts in it), the HTTP middleware that counts and times requests by
//! route *template* (never by id, so the series stay bounded), and `GET /metrics` (on the API's
//! port, and on the operations listener's, `crate::ops`).
//!
//! Other layers record their own through the facade: events appended by type
//! (`commands/src/store/append.rs`), read models' events and batches (`projections/src/runner.rs`),
//! rate-limit refusals (`security.rs`), sockets open (`routes/ws.rs`, `routes/socketio.rs`).

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sqlx::PgPool;

use crate::state::AppState;

/// Buckets for request and command latencies, in seconds: 1 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The recorder, or why it could not be installed (as text: the installer runs once).
static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

/// The process's recorder, installed on first use. One caller installs it and any other waits
/// for that: two apps a test starts at once must not both try, as the second would be refused.
pub fn handle() -> anyhow::Result<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .and_then(PrometheusBuilder::install_recorder)
                .map_err(|e| format!("{e:#}"))
        })
        .clone()
        .map_err(|e| anyhow::anyhow!("installing the metrics recorder: {e}"))
}

/// Counts and times every request by method, route template and status.
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`: the Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    summary = "Prometheus metrics (text exposition format 0.0.4)",
    responses(
        (status = 200, description = "The metrics, as `text/plain; version=0.0.4`",
            content((String = "text/plain"))),
    ),
)]
pub async fn render(State(state): State<AppState>) -> Response {
    exposition(&state.pool, &state.metrics)
}

/// The process's metrics, with `pool` sampled: the API's `/metrics`, and the operations
/// listener's (`crate::ops`).
pub(crate) fn exposition(pool: &PgPool, handle: &PrometheusHandle) -> Response {
    // The pool is sampled when scraped: it has no events of its own to count.
    metrics::gauge!("db_pool_connections", "state" => "open").set(f64::from(pool.size()));
    let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX);
    metrics::gauge!("db_pool_connections", "state" => "idle").set(f64::from(idle));
    let body = handle.render();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        body,
    )
        .into_response()
}
