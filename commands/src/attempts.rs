//! Failed attempts, counted per key over a sliding window in PostgreSQL so that every API
//! process sees the same count (a limit kept in one process's memory would let an attacker
//! multiply it by the number of processes).
//!
//! An attempt is reserved before it is made and counted with the reservation included, so
//! attempts made at the same moment cannot all slip under the limit; one that then succeeds (or
//! fails for another reason than a wrong guess) gives its reservation back. An attempt whose
//! request is cancelled half-way stays counted, which errs on the safe side.

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

impl FailureLimit {
    fn window(self) -> chrono::Duration {
        chrono::Duration::from_std(self.window).unwrap_or(chrono::Duration::hours(1))
    }
}

/// An attempt counted against its key until [`Reservation::give_back`].
#[derive(Debug)]
pub(crate) struct Reservation {
    id: i64,
}

/// Reserves an attempt for `key`; if that makes more than the limit allows, gives it back at
/// once and answers how long until `key` may try again.
pub(crate) async fn reserve(
    pool: &PgPool,
    key: &str,
    limit: FailureLimit,
) -> Result<Result<Reservation, Duration>, sqlx::Error> {
    let window = limit.window();
    let (id,): (i64,) = sqlx::query_as(
        "WITH forgotten AS (DELETE FROM failed_attempts WHERE at <= now() - $2::interval)
         INSERT INTO failed_attempts (key) VALUES ($1) RETURNING id",
    )
    .bind(key)
    .bind(window)
    .fetch_one(pool)
    .await?;
    let (count, oldest): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
        "SELECT count(*), min(at) FROM failed_attempts WHERE key = $1 AND at > now() - $2::interval",
    )
    .bind(key)
    .bind(window)
    .fetch_one(pool)
    .await?;
    let reservation = Reservation { id };
    if count <= i64::from(limit.max) {
        return Ok(Ok(reservation));
    }
    reservation.give_back(pool).await?;
    let free_at = oldest.unwrap_or_else(Utc::now) + window;
    let wait = (free_at - Utc::now()).to_std().unwrap_or_default();
    Ok(Err(wait.max(Duration::from_secs(1))))
}

impl Reservation {
    /// The attempt did not fail (or not by guessing): it no longer counts.
    pub(crate) async fn give_back(self, pool: &PgPool) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM failed_attempts WHERE id = $1")
            .bind(self.id)
            .execute(pool)
            .await?;
        Ok(())
    }
}
