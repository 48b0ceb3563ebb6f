//! What `/health/details` tells an operator: the roles this process runs, whether PostgreSQL and
//! NATS answer, how far the relay and each read model are behind the event store, the dead
//! letters set aside, the scheduler's backlog, and the build. Everything is read from the shared
//! tables, so any API process answers for the whole deployment (the relay and views may run
//! elsewhere).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use crate::startup::Roles;

/// The relay's progress.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RelayHealth {
    /// The JetStream sequence of the last event published (as last saved; it is saved every few
    /// hundred milliseconds while publishing).
    pub published_through: i64,
    /// Events committed after it.
    pub events_behind: i64,
    /// Age of the oldest of them, in seconds (0 when none).
    pub seconds_behind: f64,
}

/// One read model's progress.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ViewHealth {
    /// The view.
    pub name: &'static str,
    /// The JetStream sequence of the last event it applied.
    pub applied_through: i64,
    /// Events the relay has published that it has not applied.
    pub events_behind: i64,
    /// Events it set aside as impossible to apply.
    pub dead_letters: i64,
    /// When it last moved.
    pub updated_at: Option<DateTime<Utc>>,
}

/// Due work not yet fired.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SchedulerHealth {
    /// Rows due now or earlier (a healthy scheduler keeps this near 0).
    pub due: i64,
    /// Rows due later.
    pub pending: i64,
}

/// Which roles this process runs.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RolesHealth {
    /// Serves HTTP and sockets.
    api: bool,
    /// Publishes the event store to NATS.
    relay: bool,
    /// Keeps the read models.
    projections: bool,
    /// Fires due work.
    scheduler: bool,
}

/// The whole answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Details {
    /// The build.
    pub version: &'static str,
    /// This process's roles.
    pub roles: RolesHealth,
    /// PostgreSQL answers.
    pub database: bool,
    /// NATS is connected.
    pub nats: bool,
    /// The relay.
    pub relay: RelayHealth,
    /// Every read model.
    pub views: Vec<ViewHealth>,
    /// The scheduler.
    pub scheduler: SchedulerHealth,
    /// WebSocket and Socket.IO connections open on this process.
    pub sockets_open: usize,
}

/// Reads the deployment's state.
pub async fn read(
    pool: &PgPool,
    roles: Roles,
    nats: bool,
    sockets_open: usize,
) -> Result<Details, sqlx::Error> {
    let relay: Option<(i64, i64, i64)> = sqlx::query_as(
        "SELECT tx_id, position, stream_seq FROM relay_checkpoints ORDER BY stream_seq DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await?;
    let (tx_id, position, published_through) = relay.unwrap_or((0, 0, 0));
    let (events_behind, seconds_behind): (i64, Option<f64>) = sqlx::query_as(
        "SELECT count(*), extract(epoch FROM now() - min(recorded_at))::float8 FROM events
         WHERE (tx_id, position) > ($1::bigint::text::xid8, $2)",
    )
    .bind(tx_id)
    .bind(position)
    .fetch_one(pool)
    .await?;
    let mut views = Vec::new();
    for view in projections::Registry::standard().views() {
        let (applied, updated_at, dead_letters): (Option<i64>, Option<DateTime<Utc>>, i64) =
            sqlx::query_as(
                "SELECT (SELECT stream_seq FROM projection_checkpoints WHERE name = $1),
                        (SELECT updated_at FROM projection_checkpoints WHERE name = $1),
                        (SELECT count(*) FROM projection_dead_letters WHERE view = $1)",
            )
            .bind(view.name())
            .fetch_one(pool)
            .await?;
        let applied = applied.unwrap_or(0);
        views.push(ViewHealth {
            name: view.name(),
            applied_through: applied,
            events_behind: (published_through - applied).max(0),
            dead_letters,
            updated_at,
        });
    }
    let mut scheduler = SchedulerHealth { due: 0, pending: 0 };
    for table in crate::scheduler::TABLES {
        let (due, pending): (i64, i64) = sqlx::query_as(&format!(
            "SELECT count(*) FILTER (WHERE due_at <= now()), count(*) FILTER (WHERE due_at > now())
             FROM {table}"
        ))
        .fetch_one(pool)
        .await?;
        scheduler.due += due;
        scheduler.pending += pending;
    }
    Ok(Details {
        version: env!("CARGO_PKG_VERSION"),
        roles: RolesHealth {
            api: roles.api,
            relay: roles.relay,
            projections: roles.projections,
            scheduler: roles.scheduler,
        },
        database: true,
        nats,
        relay: RelayHealth {
            published_through,
            events_behind,
            seconds_behind: seconds_behind.unwrap_or(0.0).max(0.0),
        },
        views,
        scheduler,
        sockets_open,
    })
}
