//! The operations listener (`MOIM_OPS_BIND`): `GET /metrics`, `/health/live` and
//! `/health/ready` for a process without the API role (`serve --role relay`, `projections` or
//! `scheduler`), which has no port otherwise, though its figures are the ones an operator
//! watches most: the views' lag and failures, the relay's lag, the reminders fired. An API
//! process serves the same three on its own port.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;

use crate::error::ApiError;
use crate::extract::Json;
use crate::routes::health::{self, Readiness};

/// What the listener reports on.
pub struct Ops {
    /// The process's database pool.
    pub pool: PgPool,
    /// The process's NATS connection.
    pub nats: async_nats::Client,
    /// The process's metrics recorder.
    pub metrics: PrometheusHandle,
}

/// The listener's routes; anything else is `404 no_route`, as on the API's port.
pub fn router(ops: Ops) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(ready))
        .fallback(|| async { ApiError::not_found("no_route", "no such endpoint") })
        .with_state(Arc::new(ops))
}

async fn metrics(State(ops): State<Arc<Ops>>) -> Response {
    crate::metrics::exposition(&ops.pool, &ops.metrics)
}

/// Ready as the API's check says; a process without the API role has no sockets open.
async fn ready(State(ops): State<Arc<Ops>>) -> (StatusCode, Json<Readiness>) {
    let nats = ops.nats.connection_state() == async_nats::connection::State::Connected;
    health::readiness(&ops.pool, nats, 0).await
}
