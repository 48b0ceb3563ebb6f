//! The durable scheduler: fires due work kept in PostgreSQL, once, whichever processes run.
//!
//! Due work is a row in a view's job table ([`TABLES`]), written by the view in the
//! transaction that applies the event that scheduled it. Every process with the `scheduler` role
//! polls for rows due by its clock, claims them with `FOR UPDATE SKIP LOCKED` (two processes never
//! take the same row; a process killed mid-way drops its connection and with it the claim), runs
//! the work as a command, and deletes the row in the claiming transaction. The command is
//! idempotent — its event id is derived from what it reminds of — so a row fired twice (a crash
//! after the command, before the delete) stores nothing new. Work that came due while every
//! process was down is found on the next poll: late, once.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use commands::{CommandError, Commands};
use domain::media::MediaCommand;
use projections::couple_schedule::{ANNIVERSARY_REMINDER, PLAN_REMINDER};
use projections::games::GAME_REMINDER;
use projections::media::{MEDIA_DETACH, MEDIA_EXPIRY};

use crate::media::MediaStore;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Rows claimed per transaction.
const BATCH: i64 = 32;

/// The job tables, each written by its view: the couples' reminders, the games' starts and
/// the media's expiries and ended uses.
pub const TABLES: [&str; 3] = [
    projections::couple_schedule::JOBS,
    projections::games::JOBS,
    projections::media::JOBS,
];

/// One due row.
#[derive(Debug, sqlx::FromRow)]
struct Job {
    job_key: String,
    kind: String,
    target: Uuid,
    due_at: DateTime<Utc>,
    payload: serde_json::Value,
}

/// Why a tick failed.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// The database failed.
    #[error("database")]
    Database(#[from] sqlx::Error),
    /// A command failed for a reason other than a rule.
    #[error("command")]
    Command(#[from] CommandError),
}

/// Fires due work; see the module documentation.
#[derive(Clone)]
pub struct Scheduler {
    pool: PgPool,
    commands: Commands,
    clock: Arc<dyn domain::Services>,
    poll: Duration,
    media: Option<MediaStore>,
}

impl Scheduler {
    /// A scheduler reading the time from `clock` (tests pass a clock of their own) and looking
    /// for due work at least every `poll`.
    pub fn new(
        pool: PgPool,
        commands: Commands,
        clock: Arc<dyn domain::Services>,
        poll: Duration,
    ) -> Self {
        Self {
            pool,
            commands,
            clock,
            poll,
            media: None,
        }
    }

    /// Also removes media: without a store, media work is left for a scheduler that has one.
    pub fn with_media(mut self, store: MediaStore) -> Self {
        self.media = Some(store);
        self
    }

    /// Fires due work until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        while !stop.is_cancelled() {
            let wait = match self.tick(self.clock.now()).await {
                Ok(claimed) if claimed >= BATCH_FULL => Duration::ZERO,
                Ok(_) => self.until_next().await.unwrap_or(self.poll),
                Err(error) => {
                    tracing::error!(error = %error, "scheduler tick failed");
                    self.poll
                }
            };
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// How long until the next row is due, capped at the poll interval (rows written meanwhile
    /// are found by the next poll).
    async fn until_next(&self) -> Result<Duration, SchedulerError> {
        let next: Option<(DateTime<Utc>,)> = sqlx::query_as(&format!(
            "SELECT min(due_at) FROM ({}) due HAVING min(due_at) IS NOT NULL",
            TABLES
                .map(|t| format!("SELECT min(due_at) AS due_at FROM {t}"))
                .join(" UNION ALL ")
        ))
        .fetch_optional(&self.pool)
        .await?;
        let now = self.clock.now();
        Ok(next.map_or(self.poll, |(at,)| {
            (at - now).to_std().unwrap_or(Duration::ZERO).min(self.poll)
        }))
    }

    /// Fires the rows due at `now` in every job table; answers how many it claimed from the
    /// fullest.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<usize, SchedulerError> {
        let mut claimed = 0;
        for table in TABLES {
            claimed = claimed.max(self.tick_table(table, now).await?);
        }
        Ok(claimed)
    }

    async fn tick_table(&self, table: &str, now: DateTime<Utc>) -> Result<usize, SchedulerError> {
        if table == projections::media::JOBS && self.media.is_none() {
            return Ok(0);
        }
        let mut tx = self.pool.begin().await?;
        let jobs: Vec<Job> = sqlx::query_as(&format!(
            "SELECT job_key, kind, target, due_at, payload FROM {table}
             WHERE due_at <= $1 ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED"
        ))
        .bind(now)
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await?;
        for job in &jobs {
            let next = self.fire(job).await?;
            match next {
                Some(due_at) => {
                    sqlx::query(&format!(
                        "UPDATE {table} SET due_at = $2 WHERE job_key = $1"
                    ))
                    .bind(&job.job_key)
                    .bind(due_at)
                    .execute(&mut *tx)
                    .await?;
                }
                None => {
                    sqlx::query(&format!("DELETE FROM {table} WHERE job_key = $1"))
                        .bind(&job.job_key)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(jobs.len())
    }

    /// Runs one row's command; answers when the row is due again, if it recurs.
    async fn fire(&self, job: &Job) -> Result<Option<DateTime<Utc>>, SchedulerError> {
        let late_ms = (self.clock.now() - job.due_at).num_milliseconds();
        metrics::counter!("scheduler_fired_total", "kind" => job.kind.clone()).increment(1);
        metrics::histogram!("scheduler_late_seconds").record(late_ms.max(0) as f64 / 1000.0);
        let starts_at: Option<DateTime<Utc>> = job
            .payload
            .get("starts_at")
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        let outcome = match job.kind.as_str() {
            GAME_REMINDER => match starts_at {
                Some(starts_at) => self
                    .commands
                    .remind_game(job.target, starts_at)
                    .await
                    .map(|_| None),
                None => Ok(None),
            },
            PLAN_REMINDER => match starts_at {
                Some(starts_at) => self
                    .commands
                    .remind_plan(job.target, starts_at)
                    .await
                    .map(|_| None),
                None => Ok(None),
            },
            ANNIVERSARY_REMINDER => self.commands.remind_anniversaries(job.target).await,
            MEDIA_EXPIRY => self.retire(job.target, MediaCommand::Expire).await,
            MEDIA_DETACH => match job.payload.get("use").cloned().map(serde_json::from_value) {
                Some(Ok(from)) => self.retire(job.target, MediaCommand::Detach { from }).await,
                _ => Ok(None),
            },
            other => {
                tracing::warn!(kind = other, "unknown job kind; dropped");
                Ok(None)
            }
        };
        match outcome {
            Ok(next) => {
                tracing::info!(job = %job.job_key, late_ms, "scheduled work fired");
                Ok(next)
            }
            // A rule refusing (the plan or couple is gone) means there is nothing to do.
            Err(CommandError::Rejected { code, .. }) => {
                tracing::info!(job = %job.job_key, code, "scheduled work no longer applies");
                Ok(None)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Runs a media command and deletes the bytes of what it removed, before the job's row goes
    /// (a crash in between fires the row again: the command then changes nothing and answers
    /// the same objects, whose deletion is idempotent).
    async fn retire(
        &self,
        media_id: Uuid,
        command: MediaCommand,
    ) -> Result<Option<DateTime<Utc>>, CommandError> {
        let objects = self.commands.retire_media(media_id, command).await?;
        if let Some(store) = &self.media {
            if let Err(error) = store.delete(&objects).await {
                tracing::warn!(%error, %media_id, "removed media's bytes not deleted yet; retrying");
                return Err(CommandError::Invariant(format!(
                    "deleting {media_id}'s bytes"
                )));
            }
        }
        Ok(None)
    }
}

/// A tick that claimed a full batch: more may be due at once.
const BATCH_FULL: usize = BATCH as usize;
