//! Read models' checkpoints: how far each has applied the event stream.

use domain::Position;
use sqlx::PgConnection;

use crate::outbox::Forget;
use crate::Push;

/// Where a read model stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Checkpoint {
    /// Global position of the last event applied.
    pub position: Position,
    /// JetStream sequence of that event (the stream is the global order, one event per sequence).
    pub stream_seq: u64,
}

/// A checkpoint's row, read alone or after a batch's other work (`WITH …`).
macro_rules! load_sql {
    () => {
        "SELECT tx_id, position, stream_seq FROM projection_checkpoints WHERE name = $1"
    };
}

/// A checkpoint's upsert, run alone or before a batch's other work (`WITH saved AS (…) …`).
macro_rules! save_sql {
    () => {
        "INSERT INTO projection_checkpoints (name, tx_id, position, stream_seq) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name) DO UPDATE SET tx_id = $2, position = $3, stream_seq = $4, updated_at = now()"
    };
}

/// Reads a checkpoint (writers of one view are serialised by its advisory lock, not here).
pub async fn load(conn: &mut PgConnection, name: &str) -> Result<Checkpoint, sqlx::Error> {
    let row = sqlx::query_as(load_sql!())
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(read(row))
}

/// Reads a checkpoint at the start of a batch and, in the same statement (a round trip fewer
/// for every batch), deletes the outbox rows whose pushes are sent ([`crate::outbox`]).
pub(crate) async fn load_forgetting(
    conn: &mut PgConnection,
    name: &str,
    sent: Forget,
) -> Result<Checkpoint, sqlx::Error> {
    let row = sqlx::query_as(concat!(
        "WITH forgotten AS (DELETE FROM push_outbox WHERE id > $2 AND id <= $3) ",
        load_sql!()
    ))
    .bind(name)
    .bind(sent.after)
    .bind(sent.up_to)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(read(row))
}

fn read(row: Option<(i64, i64, i64)>) -> Checkpoint {
    row.map_or_else(Checkpoint::default, |(tx_id, position, seq)| Checkpoint {
        position: Position { tx_id, position },
        stream_seq: seq as u64,
    })
}

/// Writes a checkpoint (inside the transaction that applied the events).
pub async fn save(conn: &mut PgConnection, name: &str, at: Checkpoint) -> Result<(), sqlx::Error> {
    sqlx::query(save_sql!())
        .bind(name)
        .bind(at.position.tx_id)
        .bind(at.position.position)
        .bind(at.stream_seq as i64)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Writes a checkpoint at the end of a batch and, in the same statement, keeps the batch's
/// pushes in the outbox ([`crate::outbox`]); answers their row.
pub(crate) async fn save_keeping(
    conn: &mut PgConnection,
    name: &str,
    at: Checkpoint,
    pushes: &[Push],
) -> Result<Option<i64>, sqlx::Error> {
    if pushes.is_empty() {
        save(conn, name, at).await?;
        return Ok(None);
    }
    let (id,): (i64,) = sqlx::query_as(concat!(
        "WITH saved AS (",
        save_sql!(),
        ") INSERT INTO push_outbox (pushes) VALUES ($5) RETURNING id"
    ))
    .bind(name)
    .bind(at.position.tx_id)
    .bind(at.position.position)
    .bind(at.stream_seq as i64)
    .bind(sqlx::types::Json(pushes))
    .fetch_one(&mut *conn)
    .await?;
    Ok(Some(id))
}

/// What [`stands_free_at`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Standing {
    /// The move it was given was made: the checkpoint stood where it starts.
    pub moved: bool,
    /// The checkpoint stands at the sequence asked about (after the move) and the view's lock is
    /// free.
    pub free: bool,
}

/// Whether a checkpoint stands at stream sequence `from` while its view's lock (`lock_key`) is
/// free: no batch or replay holds it. The lock is tried and let go within the statement. A batch
/// that needs no transaction asks this before it does anything, so it goes ahead only where a
/// transaction would. The same statement first makes the move `before` (from the first
/// sequence to the checkpoint), if the checkpoint stands where it starts, and deletes the outbox
/// rows whose pushes are sent, as [`advance`] does: the previous such batch's move, which
/// waited for this one (docs/architecture.md).
pub(crate) async fn stands_free_at(
    conn: &mut PgConnection,
    name: &str,
    lock_key: i64,
    from: u64,
    before: Option<(u64, Checkpoint)>,
    sent: Forget,
) -> Result<Standing, sqlx::Error> {
    let (moved, free): (bool, Option<bool>) = sqlx::query_as(
        "WITH quick AS (SELECT set_config('synchronous_commit', 'off', true)),
              forgotten AS (DELETE FROM push_outbox WHERE id > $8 AND id <= $9),
              moved AS (
                UPDATE projection_checkpoints
                   SET tx_id = $4, position = $5, stream_seq = $6, updated_at = now()
                  FROM quick WHERE name = $1 AND stream_seq = $7
                RETURNING stream_seq)
         SELECT EXISTS (SELECT FROM moved),
                COALESCE((SELECT stream_seq FROM moved),
                         (SELECT stream_seq FROM projection_checkpoints WHERE name = $1)) = $2
                  AND pg_try_advisory_xact_lock($3)",
    )
    .bind(name)
    .bind(from as i64)
    .bind(lock_key)
    .bind(before.map(|(_, to)| to.position.tx_id))
    .bind(before.map(|(_, to)| to.position.position))
    .bind(before.map(|(_, to)| to.stream_seq as i64))
    .bind(before.map(|(from, _)| from as i64))
    .bind(sent.after)
    .bind(sent.up_to)
    .fetch_one(conn)
    .await?;
    Ok(Standing {
        moved,
        free: free == Some(true),
    })
}

/// Moves a checkpoint that stands at stream sequence `from` on to `to`, in one statement of its
/// own that also deletes the outbox rows whose pushes are sent, as a batch's first statement does
/// ([`load_forgetting`]): answers whether it stood there. Committed asynchronously, as the
/// runner's batches are (a checkpoint a crash forgets only means the events are passed over, or
/// their pushes sent, again).
pub(crate) async fn advance(
    conn: &mut PgConnection,
    name: &str,
    from: u64,
    to: Checkpoint,
    sent: Forget,
) -> Result<bool, sqlx::Error> {
    let moved = sqlx::query(
        "WITH quick AS (SELECT set_config('synchronous_commit', 'off', true)),
              forgotten AS (DELETE FROM push_outbox WHERE id > $6 AND id <= $7)
         UPDATE projection_checkpoints SET tx_id = $2, position = $3, stream_seq = $4, updated_at = now()
         FROM quick WHERE name = $1 AND stream_seq = $5",
    )
    .bind(name)
    .bind(to.position.tx_id)
    .bind(to.position.position)
    .bind(to.stream_seq as i64)
    .bind(from as i64)
    .bind(sent.after)
    .bind(sent.up_to)
    .execute(conn)
    .await?;
    Ok(moved.rows_affected() == 1)
}
