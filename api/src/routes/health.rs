//! Liveness, readiness, and the details an operator reads.

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::extract::{Actor, Json};
use crate::health_details::{self, Details};
use crate::state::AppState;

/// The process is up.
pub async fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Whether this process can serve: PostgreSQL answers with every migration this build knows
/// applied, and NATS is connected; otherwise 503, and a load balancer stops sending.
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let known = sqlx::migrate!("../migrations").iter().count();
    let applied: Option<i64> =
        sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
            .fetch_one(&state.pool)
            .await
            .ok();
    let database = applied.is_some();
    let migrations = applied.is_some_and(|n| usize::try_from(n).is_ok_and(|n| n >= known));
    let nats = state.hub.nats_connected();
    let status = if database && migrations && nats {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "database": database,
            "migrations": migrations,
            "nats": nats,
            "sockets_open": state.hub.sockets_open(),
        })),
    )
}

/// `GET /health/details`: platform admins only (`403 not_admin`).
pub async fn details(
    State(state): State<AppState>,
    actor: Actor,
) -> Result<Json<Details>, ApiError> {
    actor.commands.refuse_unless_admin(actor.user_id).await?;
    let details = health_details::read(
        &state.pool,
        state.roles,
        state.hub.nats_connected(),
        state.hub.sockets_open(),
    )
    .await?;
    Ok(Json(details))
}
