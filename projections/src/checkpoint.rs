//! Read models' checkpoints: how far each has applied the event stream.

use domain::Position;
use sqlx::{PgConnection, PgPool};

/// Where a read model stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Checkpoint {
    /// Global position of the last event applied.
    pub position: Position,
    /// JetStream sequence of that event (the stream is the global order, one event per sequence).
    pub stream_seq: u64,
}

/// Reads a checkpoint (writers of one view are serialised by its advisory lock, not here).
pub async fn load(conn: &mut PgConnection, name: &str) -> Result<Checkpoint, sqlx::Error> {
    let row: Option<(i64, i64, i64)> = sqlx::query_as(
        "SELECT tx_id, position, stream_seq FROM projection_checkpoints WHERE name = $1",
    )
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(
        row.map_or_else(Checkpoint::default, |(tx_id, position, seq)| Checkpoint {
            position: Position { tx_id, position },
            stream_seq: seq as u64,
        }),
    )
}

/// Writes a checkpoint (inside the transaction that applied the events).
pub async fn save(conn: &mut PgConnection, name: &str, at: Checkpoint) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO projection_checkpoints (name, tx_id, position, stream_seq) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name) DO UPDATE SET tx_id = $2, position = $3, stream_seq = $4, updated_at = now()",
    )
    .bind(name)
    .bind(at.position.tx_id)
    .bind(at.position.position)
    .bind(at.stream_seq as i64)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Moves a checkpoint that stands at stream sequence `from` on to `to`, in one statement of its
/// own: answers whether it stood there. Committed asynchronously, as the runner's batches are
/// (a checkpoint a crash forgets only means the events are passed over again).
pub async fn advance(
    pool: &PgPool,
    name: &str,
    from: u64,
    to: Checkpoint,
) -> Result<bool, sqlx::Error> {
    let moved = sqlx::query(
        "WITH quick AS (SELECT set_config('synchronous_commit', 'off', true))
         UPDATE projection_checkpoints SET tx_id = $2, position = $3, stream_seq = $4, updated_at = now()
         FROM quick WHERE name = $1 AND stream_seq = $5",
    )
    .bind(name)
    .bind(to.position.tx_id)
    .bind(to.position.position)
    .bind(to.stream_seq as i64)
    .bind(from as i64)
    .execute(pool)
    .await?;
    Ok(moved.rows_affected() == 1)
}
