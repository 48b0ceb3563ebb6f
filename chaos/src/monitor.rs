//! Samples the notifier's checkpoint every 100 ms, so the watcher check can tell *when* a message
//! was pushed (a push goes out right after the batch that holds it commits): a message the
//! watcher missed can then be matched against the outages around its push.

use std::time::Duration;

use domain::Position;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;

const EVERY: Duration = Duration::from_millis(100);

/// One checkpoint value and when it was first and last seen (run clock).
#[derive(Debug, Clone, Copy)]
pub struct Seen {
    /// The notifier's checkpoint.
    pub checkpoint: Position,
    /// First sample that showed it.
    pub first: f64,
    /// Last sample that showed it.
    pub last: f64,
}

/// The notifier's checkpoint over time.
#[derive(Debug, Default)]
pub struct Timeline(Vec<Seen>);

impl Timeline {
    /// The interval in which the notifier committed the batch holding `position`: after the last
    /// sample still below it, up to the first sample at or past it.
    pub fn committed_between(&self, position: Position) -> (f64, f64) {
        let before = self
            .0
            .iter()
            .rev()
            .find(|s| s.checkpoint < position)
            .map_or(0.0, |s| s.last);
        let after = self
            .0
            .iter()
            .find(|s| s.checkpoint >= position)
            .map_or(f64::INFINITY, |s| s.first);
        (before, after)
    }
}

/// Samples until `stop`. While PostgreSQL is down the samples simply fail and are skipped.
pub async fn sample(pool: PgPool, clock: Clock, stop: CancellationToken) -> Timeline {
    let mut timeline = Timeline::default();
    while !stop.is_cancelled() {
        let row: Result<Option<(i64, i64)>, _> = sqlx::query_as(
            "SELECT tx_id, position FROM projection_checkpoints WHERE name = 'notifications'",
        )
        .fetch_optional(&pool)
        .await;
        if let Ok(Some((tx_id, position))) = row {
            let checkpoint = Position { tx_id, position };
            let now = clock.now();
            match timeline.0.last_mut() {
                Some(seen) if seen.checkpoint == checkpoint => seen.last = now,
                _ => timeline.0.push(Seen {
                    checkpoint,
                    first: now,
                    last: now,
                }),
            }
        }
        tokio::select! {
            () = stop.cancelled() => {}
            () = tokio::time::sleep(EVERY) => {}
        }
    }
    timeline
}
