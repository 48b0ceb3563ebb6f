//! Liveness and readiness.

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::extract::Json;
use crate::state::AppState;

/// The process is up.
pub async fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// PostgreSQL answers; otherwise 503.
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = sqlx::query("SELECT 1").execute(&state.pool).await.is_ok();
    let status = if database {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({ "database": database, "sockets_open": state.hub.sockets_open() })),
    )
}
