//! How far each read model has got, as this process learns it, for read-your-writes waits.
//!
//! One task per API process listens for the checkpoints' notifications (`moim_checkpoints`,
//! sent at commit by a trigger) and keeps the latest position of every view in a watch channel;
//! a query waiting for its consistency token waits on that channel. So a thousand waiting
//! queries cost one listening connection, not a thousand polling loops. After the listening
//! connection breaks (sqlx reconnects it by itself), every checkpoint is read again, so nothing
//! notified meanwhile is missed; and every few seconds they are read again anyway, so even a
//! connection that died silently delays a wait by at most that long.
//!
//! It also knows the newest committed event, so a token from the future — which no view will
//! ever reach — is refused at once instead of being waited for.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use domain::Position;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::View;

/// The channel the checkpoint trigger notifies on.
const CHANNEL: &str = "moim_checkpoints";

/// How often the checkpoints are read even without a notification.
const REREAD: Duration = Duration::from_secs(5);

/// Read models' progress as this process knows it. Share it in an `Arc`.
pub struct Progress {
    pool: PgPool,
    views: Mutex<HashMap<String, watch::Sender<Position>>>,
    newest: Mutex<Position>,
}

impl Progress {
    /// Progress over `pool`; call [`Progress::follow`] to keep it current.
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            views: Mutex::new(HashMap::new()),
            newest: Mutex::new(Position::START),
        }
    }

    /// Follows the checkpoints until `stop` is cancelled, reconnecting after any failure.
    pub async fn follow(&self, stop: CancellationToken) {
        while !stop.is_cancelled() {
            if let Err(error) = self.listen(&stop).await {
                let error = domain::error::chain(&error);
                tracing::warn!(error, "checkpoint listener failed; reconnecting");
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }

    async fn listen(&self, stop: &CancellationToken) -> Result<(), sqlx::Error> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(CHANNEL).await?;
        // Listening first, then reading: whatever moved in between is in one or the other.
        self.read_all().await?;
        let mut safety_net = tokio::time::interval(REREAD);
        loop {
            tokio::select! {
                () = stop.cancelled() => return Ok(()),
                _ = safety_net.tick() => self.read_all().await?,
                notification = listener.try_recv() => match notification? {
                    Some(notification) => {
                        let parsed = notification
                            .payload()
                            .split_once(' ')
                            .and_then(|(name, at)| Some((name, at.parse::<Position>().ok()?)));
                        if let Some((name, at)) = parsed {
                            self.advance(name, at);
                        }
                    }
                    // The connection was lost and re-established: notifications may be lost.
                    None => self.read_all().await?,
                },
            }
        }
    }

    async fn read_all(&self) -> Result<(), sqlx::Error> {
        let all: Vec<(String, i64, i64)> =
            sqlx::query_as("SELECT name, tx_id, position FROM projection_checkpoints")
                .fetch_all(&self.pool)
                .await?;
        for (name, tx_id, position) in all {
            self.advance(&name, Position { tx_id, position });
        }
        Ok(())
    }

    fn sender(&self, name: &str) -> watch::Sender<Position> {
        let mut views = self.views.lock().unwrap_or_else(|p| p.into_inner());
        views
            .entry(name.to_owned())
            .or_insert_with(|| watch::channel(Position::START).0)
            .clone()
    }

    fn advance(&self, name: &str, at: Position) {
        self.sender(name).send_if_modified(|known| {
            let moved = at > *known;
            if moved {
                *known = at;
            }
            moved
        });
    }

    /// Whether `token` names an event that has been committed (so a view can reach it).
    pub async fn committed(&self, token: Position) -> Result<bool, sqlx::Error> {
        if token <= *self.newest.lock().unwrap_or_else(|p| p.into_inner()) {
            return Ok(true);
        }
        let newest: Option<(i64, i64)> = sqlx::query_as(
            "SELECT tx_id::text::bigint, position FROM events
             ORDER BY tx_id DESC, position DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        let newest = newest.map_or(Position::START, |(tx_id, position)| Position {
            tx_id,
            position,
        });
        let mut known = self.newest.lock().unwrap_or_else(|p| p.into_inner());
        *known = (*known).max(newest);
        Ok(token <= *known)
    }

    /// Waits until `view` has applied everything up to `token`; answers whether it did within
    /// `timeout`.
    pub async fn wait_for(&self, view: View, token: Position, timeout: Duration) -> bool {
        let mut moved = self.sender(view.name()).subscribe();
        tokio::time::timeout(timeout, moved.wait_for(|at| *at >= token))
            .await
            .is_ok_and(|waited| waited.is_ok())
    }
}
