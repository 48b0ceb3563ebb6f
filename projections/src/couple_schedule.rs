//! The couples view's due work: one row per pending reminder in `couple_jobs`, written in the
//! same transaction as the event that scheduled, moved or cancelled it, so the schedule is never
//! out of step with the events (and a replay rebuilds it, minus what was already sent).
//!
//! The API's scheduler claims due rows with `FOR UPDATE SKIP LOCKED` and runs the reminder as a
//! command; this module only says what is due when.

use chrono::{DateTime, Utc};
use domain::couple::calendar::{self, Dates};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::couples::dates;
use crate::ProjectionError;

/// The table of due work.
pub const JOBS: &str = "couple_jobs";
/// A plan's reminder: `target` is the plan, `payload.starts_at` the start it reminds of.
pub const PLAN_REMINDER: &str = "plan.reminder";
/// A couple's next anniversary reminder: `target` is the couple.
pub const ANNIVERSARY_REMINDER: &str = "anniversary.upcoming";

fn plan_key(plan_id: Uuid) -> String {
    format!("plan:{plan_id}")
}

fn anniversaries_key(couple_id: Uuid) -> String {
    format!("anniversaries:{couple_id}")
}

async fn remove(tx: &mut PgConnection, key: &str) -> Result<(), ProjectionError> {
    sqlx::query("DELETE FROM couple_jobs WHERE job_key = $1")
        .bind(key)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Schedules (or moves, or with `None` cancels) a plan's reminder for its start `starts_at`.
pub async fn plan(
    tx: &mut PgConnection,
    plan_id: Uuid,
    due_at: Option<DateTime<Utc>>,
    starts_at: DateTime<Utc>,
) -> Result<(), ProjectionError> {
    let key = plan_key(plan_id);
    match due_at {
        Some(due_at) => {
            let payload = json!({ "starts_at": starts_at });
            crate::jobs::put(tx, JOBS, &key, PLAN_REMINDER, plan_id, due_at, payload).await
        }
        None => remove(tx, &key).await,
    }
}

/// Cancels a plan's reminder; with `reminded`, only the one for that start (it was sent).
pub async fn cancel_plan(
    tx: &mut PgConnection,
    plan_id: Uuid,
    reminded: Option<DateTime<Utc>>,
) -> Result<(), ProjectionError> {
    sqlx::query(
        "DELETE FROM couple_jobs WHERE job_key = $1
         AND ($2::timestamptz IS NULL OR (payload->>'starts_at')::timestamptz = $2)",
    )
    .bind(plan_key(plan_id))
    .bind(reminded)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Puts the couple's next anniversary reminder (after the last one sent) in the schedule.
pub async fn anniversaries(tx: &mut PgConnection, couple_id: Uuid) -> Result<(), ProjectionError> {
    let key = anniversaries_key(couple_id);
    let through: Option<(DateTime<Utc>, bool)> = sqlx::query_as(
        "SELECT reminded_through, dissolved_at IS NOT NULL FROM couples WHERE couple_id = $1",
    )
    .bind(couple_id)
    .fetch_optional(&mut *tx)
    .await?;
    let (Some((reminded_through, false)), Some(known)) =
        (through, dates(&mut *tx, couple_id).await?)
    else {
        return remove(tx, &key).await;
    };
    let zone = domain::values::TimeZoneName::parse(&known.time_zone)
        .unwrap_or(domain::values::TimeZoneName::SEOUL);
    let next = calendar::next_reminder(
        Dates {
            started_on: known.started_on,
            birthdays: &known.birthdays,
            custom: &known.custom,
        },
        zone.tz(),
        reminded_through,
    );
    match next {
        Some(due_at) => {
            let payload = json!({});
            crate::jobs::put(
                tx,
                JOBS,
                &key,
                ANNIVERSARY_REMINDER,
                couple_id,
                due_at,
                payload,
            )
            .await
        }
        None => remove(tx, &key).await,
    }
}

/// Cancels everything pending for a dissolved couple.
pub async fn cancel_couple(tx: &mut PgConnection, couple_id: Uuid) -> Result<(), ProjectionError> {
    sqlx::query(
        "DELETE FROM couple_jobs
         WHERE target = $1 OR target IN (SELECT plan_id FROM couple_plans WHERE couple_id = $1)",
    )
    .bind(couple_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
