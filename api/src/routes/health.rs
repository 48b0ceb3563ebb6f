//! Liveness, readiness, and the details an operator reads.

use axum::extract::State;
use axum::http::StatusCode;
use projections::frames::Problem;
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extract::{Actor, Json};
use crate::health_details::{self, Details};
use crate::state::AppState;

/// The process is up.
#[derive(Serialize, ToSchema)]
pub struct Liveness {
    /// Always `ok`.
    #[schema(example = "ok")]
    status: &'static str,
}

/// What this process needs to serve, and whether it has it.
#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// PostgreSQL answers.
    database: bool,
    /// Every migration this build knows is applied.
    migrations: bool,
    /// NATS is connected.
    nats: bool,
    /// WebSocket and Socket.IO connections open on this process.
    sockets_open: usize,
}

/// The process is up.
#[utoipa::path(
    get,
    path = "/health/live",
    operation_id = "health_live",
    tag = "operations",
    summary = "Liveness: the process is up",
    responses((status = 200, description = "Up", body = Liveness)),
)]
pub async fn live() -> Json<Liveness> {
    Json(Liveness { status: "ok" })
}

/// Whether this process can serve: PostgreSQL answers with every migration this build knows
/// applied, and NATS is connected; otherwise 503, and a load balancer stops sending.
#[utoipa::path(
    get,
    path = "/health/ready",
    operation_id = "health_ready",
    tag = "operations",
    summary = "Readiness: PostgreSQL answers, migrations are applied, NATS is connected",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "Not ready: what is missing is `false`",
            content((Readiness = "application/json"), (Problem = "application/problem+json"))),
    ),
)]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    readiness(
        &state.pool,
        state.hub.nats_connected(),
        state.hub.sockets_open(),
    )
    .await
}

/// Whether a process with `pool` and NATS (`nats`: connected) can serve, with the sockets
/// open on it (`sockets_open`): the API's readiness, and the operations listener's
/// (`crate::ops`).
pub(crate) async fn readiness(
    pool: &PgPool,
    nats: bool,
    sockets_open: usize,
) -> (StatusCode, Json<Readiness>) {
    let known = sqlx::migrate!("../migrations").iter().count();
    let applied: Option<i64> =
        sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
            .fetch_one(pool)
            .await
            .ok();
    let database = applied.is_some();
    let migrations = applied.is_some_and(|n| usize::try_from(n).is_ok_and(|n| n >= known));
    let status = if database && migrations && nats {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            database,
            migrations,
            nats,
            sockets_open,
        }),
    )
}

/// `GET /health/details`: platform admins only (`403 not_admin`).
#[utoipa::path(
    get,
    path = "/health/details",
    operation_id = "health_details",
    tag = "operations",
    summary = "The deployment's state: relay and read-model lag, dead letters, scheduler backlog (platform admins)",
    responses(
        (status = 200, description = "The details", body = Details),
        (status = 403, description = "`not_admin`", body = Problem),
    ),
    security(("bearer" = [])),
)]
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
