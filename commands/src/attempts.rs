//! Failed attempts, counted per key over a sliding window in PostgreSQL so that every API
//! process sees the same count (a limit kept in one process's memory would let an attacker
//! multiply it by the number of processes).

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// A sliding-window limit on failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureLimit {
    /// Failures allowed within `window`.
    pub max: u32,
    /// The window.
    pub window: Duration,
}

/// How long until `key` may try again, if it has used up `limit`.
pub(crate) async fn blocked_for(
    pool: &PgPool,
    key: &str,
    limit: FailureLimit,
) -> Result<Option<Duration>, sqlx::Error> {
    let window = chrono::Duration::from_std(limit.window).unwrap_or(chrono::Duration::hours(1));
    let (count, oldest): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
        "SELECT count(*), min(at) FROM failed_attempts WHERE key = $1 AND at > now() - $2::interval",
    )
    .bind(key)
    .bind(window)
    .fetch_one(pool)
    .await?;
    if count < i64::from(limit.max) {
        return Ok(None);
    }
    let free_at = oldest.unwrap_or_else(Utc::now) + window;
    Ok(Some(
        (free_at - Utc::now())
            .to_std()
            .unwrap_or(Duration::from_secs(1))
            .max(Duration::from_secs(1)),
    ))
}

/// Records one failure of `key`, and forgets its failures older than the window.
pub(crate) async fn record(
    pool: &PgPool,
    key: &str,
    limit: FailureLimit,
) -> Result<(), sqlx::Error> {
    let window = chrono::Duration::from_std(limit.window).unwrap_or(chrono::Duration::hours(1));
    sqlx::query(
        "WITH forgotten AS (
             DELETE FROM failed_attempts WHERE key = $1 AND at <= now() - $2::interval
         )
         INSERT INTO failed_attempts (key) VALUES ($1)",
    )
    .bind(key)
    .bind(window)
    .execute(pool)
    .await?;
    Ok(())
}
