//! Waiting for the system to settle after the load: the stream holds as many messages as the
//! store holds events, and every read model's checkpoint is at the store's last position.

use std::time::Duration;

use async_nats::jetstream;
use domain::Position;
use sqlx::PgPool;
use tokio::time::Instant;

/// The views that must catch up.
pub const VIEWS: [&str; 5] = ["users", "chat", "couples", "games", "notifications"];

/// The state the wait looks at.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// Rows in `events`.
    pub events: i64,
    /// The store's last global position.
    pub last_position: Position,
    /// The stream's last sequence.
    pub stream_last: u64,
    /// Each view's checkpoint position.
    pub checkpoints: Vec<(String, Position)>,
}

impl State {
    fn settled(&self) -> bool {
        self.stream_last == self.events as u64
            && VIEWS.iter().all(|view| {
                self.checkpoints
                    .iter()
                    .any(|(name, at)| name == view && *at == self.last_position)
            })
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "events {} (last {}), stream {}, checkpoints",
            self.events, self.last_position, self.stream_last
        )?;
        for (name, at) in &self.checkpoints {
            write!(f, " {name}={at}")?;
        }
        Ok(())
    }
}

/// Polls until settled; `Err` carries the last state seen when `timeout` ran out.
pub async fn wait(
    pool: &PgPool,
    js: &jetstream::Context,
    stream: &str,
    timeout: Duration,
) -> Result<(State, Duration), State> {
    let started = Instant::now();
    let mut last = State::default();
    loop {
        if let Ok(state) = look(pool, js, stream).await {
            if state.settled() {
                return Ok((state, started.elapsed()));
            }
            last = state;
        }
        if started.elapsed() > timeout {
            return Err(last);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn look(pool: &PgPool, js: &jetstream::Context, stream: &str) -> anyhow::Result<State> {
    let (events,): (i64,) = sqlx::query_as("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await?;
    let last: Option<(i64, i64)> = sqlx::query_as(
        "SELECT tx_id::text::bigint, position FROM events ORDER BY tx_id DESC, position DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await?;
    let checkpoints: Vec<(String, i64, i64)> =
        sqlx::query_as("SELECT name, tx_id, position FROM projection_checkpoints ORDER BY name")
            .fetch_all(pool)
            .await?;
    let stream_last = js
        .get_stream(stream)
        .await?
        .cached_info()
        .state
        .last_sequence;
    Ok(State {
        events,
        last_position: last.map_or(Position::START, |(tx_id, position)| Position {
            tx_id,
            position,
        }),
        stream_last,
        checkpoints: checkpoints
            .into_iter()
            .map(|(name, tx_id, position)| (name, Position { tx_id, position }))
            .collect(),
    })
}
