//! Due work a view schedules: a row in the view's own job table (`job_key`, `kind`, `target`,
//! `due_at`, `payload`), written in the transaction of the event that scheduled it, so the
//! schedule is never out of step with the events. The API's scheduler claims and fires the rows.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::ProjectionError;

/// Schedules (or moves) the job `key` in `table`, one of the views' job-table constants.
pub(crate) async fn put(
    tx: &mut PgConnection,
    table: &str,
    key: &str,
    kind: &str,
    target: Uuid,
    due_at: DateTime<Utc>,
    payload: serde_json::Value,
) -> Result<(), ProjectionError> {
    sqlx::query(&format!(
        "INSERT INTO {table} (job_key, kind, target, due_at, payload) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (job_key) DO UPDATE SET due_at = $4, payload = $5"
    ))
    .bind(key)
    .bind(kind)
    .bind(target)
    .bind(due_at)
    .bind(payload)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
