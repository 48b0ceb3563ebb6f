//! Rebuilds read models from the event store.
//!
//! A replay runs in one transaction per view: it empties the view, applies every event below the
//! horizon in global order, and sets the checkpoint — all or nothing, while readers keep seeing
//! the old rows until it commits. It holds the view's advisory lock, so the live consumer waits
//! and then simply continues after the new checkpoint. The checkpoint's stream sequence is the
//! number of events applied: the relay keeps the stream an exact copy of the global order.

use domain::Position;
use futures::TryStreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use moim_nats::EventEnvelope;
use sqlx::{PgPool, Row};

use crate::checkpoint::{self, Checkpoint};
use crate::{ProjectionError, View};

/// How a replay went.
#[derive(Debug, Clone, Copy)]
pub struct Replayed {
    /// Events applied.
    pub events: u64,
    /// Where the view now stands.
    pub checkpoint: Checkpoint,
}

/// Rebuilds `view`; shows a progress bar when `progress` is set and stderr is a terminal.
pub async fn replay(
    pool: &PgPool,
    view: View,
    progress: bool,
) -> Result<Replayed, ProjectionError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(view.lock_key())
        .execute(&mut *tx)
        .await?;
    let (horizon,): (i64,) =
        sqlx::query_as("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            .fetch_one(&mut *tx)
            .await?;
    let (total,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM events WHERE tx_id < $1::bigint::text::xid8")
            .bind(horizon)
            .fetch_one(&mut *tx)
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
    view.clear(&mut tx).await?;
    // The events are read on a second connection: one connection cannot stream a query and
    // run the view's writes at the same time.
    let mut reader = pool.acquire().await?;
    let mut rows = sqlx::query(
        "SELECT event_id, aggregate_type, aggregate_id, sequence, event_type, event_version, payload,
                metadata, recorded_at, tx_id::text::bigint AS tx, position
         FROM events WHERE tx_id < $1::bigint::text::xid8 ORDER BY tx_id, position",
    )
    .bind(horizon)
    .fetch(&mut *reader);
    let mut at = Checkpoint::default();
    let mut discarded = Vec::new();
    while let Some(row) = rows.try_next().await? {
        let event = EventEnvelope {
            event_id: row.try_get("event_id")?,
            aggregate_type: row.try_get("aggregate_type")?,
            aggregate_id: row.try_get("aggregate_id")?,
            sequence: row.try_get("sequence")?,
            event_type: row.try_get("event_type")?,
            event_version: row.try_get("event_version")?,
            position: Position {
                tx_id: row.try_get("tx")?,
                position: row.try_get("position")?,
            },
            recorded_at: row.try_get("recorded_at")?,
            payload: row.try_get("payload")?,
            metadata: row.try_get("metadata")?,
        };
        view.apply(&mut tx, &event, &mut discarded).await?;
        // Replays re-create the feed, not the moment: nothing is pushed again.
        discarded.clear();
        at = Checkpoint {
            position: event.position,
            stream_seq: at.stream_seq + 1,
        };
        bar.inc(1);
    }
    drop(rows);
    checkpoint::save(&mut tx, view.name(), at).await?;
    tx.commit().await?;
    bar.finish();
    Ok(Replayed {
        events: at.stream_seq,
        checkpoint: at,
    })
}
