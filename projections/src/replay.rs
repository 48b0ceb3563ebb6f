//! Rebuilds read models from the event store.
//!
//! A replay builds the view afresh in a shadow schema (empty copies of the view's tables),
//! applying every event below the horizon in global order in short transactions, then swaps the
//! shadow tables in and sets the checkpoint in one short transaction. Readers keep the old rows
//! until the swap; no transaction stays open long enough to hold back the relay's horizon. The
//! view's advisory lock is held throughout, so its live consumer waits and then simply continues
//! after the new checkpoint. The checkpoint's stream sequence is the number of events applied:
//! the relay keeps the stream an exact copy of the global order.

use futures::TryStreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use moim_nats::EventEnvelope;
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

use crate::checkpoint::{self, Checkpoint};
use crate::{ProjectionError, View};

/// Events applied per transaction.
const BATCH: usize = 2000;

/// How a replay went.
#[derive(Debug, Clone, Copy)]
pub struct Replayed {
    /// Events applied.
    pub events: u64,
}

/// Rebuilds `view`; shows a progress bar when `progress` is set and stderr is a terminal.
pub async fn replay(
    pool: &PgPool,
    view: View,
    progress: bool,
) -> Result<Replayed, ProjectionError> {
    // A session lock on a connection of its own: released when it closes, whatever happens.
    let mut guard = pool.connect_options().connect().await?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(view.lock_key())
        .execute(&mut guard)
        .await?;
    let result = rebuild(pool, view, progress).await;
    let _ = guard.close().await;
    result
}

async fn rebuild(pool: &PgPool, view: View, progress: bool) -> Result<Replayed, ProjectionError> {
    let shadow = format!("moim_replay_{}", view.name());
    let retired = format!("moim_retired_{}", view.name());
    let mut ddl = String::new();
    ddl.push_str(&format!(
        "DROP SCHEMA IF EXISTS {shadow} CASCADE; CREATE SCHEMA {shadow};"
    ));
    for table in view.tables() {
        ddl.push_str(&format!(
            "CREATE TABLE {shadow}.{table} (LIKE public.{table} INCLUDING ALL);"
        ));
    }
    sqlx::raw_sql(&ddl).execute(pool).await?;

    let (horizon,): (i64,) =
        sqlx::query_as("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            .fetch_one(pool)
            .await?;
    let (total,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM events WHERE tx_id < $1::bigint::text::xid8")
            .bind(horizon)
            .fetch_one(pool)
            .await?;
    let bar = if progress {
        ProgressBar::new(total as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:>13} [{bar:40}] {pos}/{len} events, {per_sec}, eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(view.name());

    // The events are read on a connection of their own, outside any transaction, so the long
    // read holds no transaction id.
    let mut reader = pool.acquire().await?;
    let sql =
        EventEnvelope::select("WHERE tx_id < $1::bigint::text::xid8 ORDER BY tx_id, position");
    let mut rows = sqlx::query_as::<_, EventEnvelope>(&sql)
        .bind(horizon)
        .fetch(&mut *reader);
    let mut at = Checkpoint::default();
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let next = rows.try_next().await?;
        let finished = next.is_none();
        batch.extend(next);
        if batch.len() == BATCH || (finished && !batch.is_empty()) {
            let mut tx = pool.begin().await?;
            apply_into(&mut tx, &shadow, view, &batch).await?;
            tx.commit().await?;
            at = Checkpoint {
                position: batch.last().map_or(at.position, |e| e.position),
                stream_seq: at.stream_seq + batch.len() as u64,
            };
            bar.inc(batch.len() as u64);
            batch.clear();
        }
        if finished {
            break;
        }
    }
    drop(rows);

    let mut swap = format!("DROP SCHEMA IF EXISTS {retired} CASCADE; CREATE SCHEMA {retired};");
    for table in view.tables() {
        swap.push_str(&format!(
            "ALTER TABLE public.{table} SET SCHEMA {retired}; ALTER TABLE {shadow}.{table} SET SCHEMA public;"
        ));
    }
    let mut tx = pool.begin().await?;
    sqlx::raw_sql(&swap).execute(&mut *tx).await?;
    checkpoint::save(&mut tx, view.name(), at).await?;
    tx.commit().await?;
    sqlx::raw_sql(&format!(
        "DROP SCHEMA {retired} CASCADE; DROP SCHEMA {shadow} CASCADE;"
    ))
    .execute(pool)
    .await?;
    bar.finish();
    Ok(Replayed {
        events: at.stream_seq,
    })
}

/// Applies events to the shadow tables: the shadow schema comes first on the search path, so
/// the view's own SQL writes there unchanged.
async fn apply_into(
    tx: &mut PgConnection,
    shadow: &str,
    view: View,
    events: &[EventEnvelope],
) -> Result<(), ProjectionError> {
    // Asynchronous commit: a crash mid-replay leaves only the shadow schema, which the next
    // replay drops and rebuilds.
    sqlx::raw_sql(&format!(
        "SET LOCAL search_path = {shadow}, public; SET LOCAL synchronous_commit = off"
    ))
    .execute(&mut *tx)
    .await?;
    // Replays re-create the feed, not the moment: nothing is pushed again.
    view.apply(&mut *tx, events, None).await?;
    Ok(())
}
