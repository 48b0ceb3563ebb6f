//! Read models' checkpoints: how far each has applied the event stream.

use domain::Position;
use sqlx::postgres::PgArguments;
use sqlx::query::QueryAs;
use sqlx::{Arguments, PgConnection, Postgres};
use uuid::Uuid;

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

/// The start of a statement that moves a checkpoint (`$1`, its view's name) that stands at stream
/// sequence `$5` on to (`$2`, `$3`, `$4`), and deletes the outbox rows in (`$6`, `$7`], whose
/// pushes are sent; the rest of the statement reads whether it moved from `moved`. It commits
/// asynchronously, as the runner's batches do (a checkpoint a crash forgets only means events
/// are passed over, or their pushes sent, again). [`bind_move`] binds what it names.
macro_rules! move_sql {
    () => {
        "WITH quick AS (SELECT set_config('synchronous_commit', 'off', true)),
              forgotten AS (DELETE FROM push_outbox WHERE id > $6 AND id <= $7),
              moved AS (
                UPDATE projection_checkpoints
                   SET tx_id = $2, position = $3, stream_seq = $4, updated_at = now()
                  FROM quick WHERE name = $1 AND stream_seq = $5
                RETURNING stream_seq) "
    };
}

/// Binds what [`move_sql`] names: the move of `name`'s checkpoint from a stream sequence to a
/// checkpoint, if any (none moves nothing), and the outbox rows `sent`.
fn bind_move<'q, O>(
    query: QueryAs<'q, Postgres, O, PgArguments>,
    name: &'q str,
    moving: Option<(u64, Checkpoint)>,
    sent: Forget,
) -> QueryAs<'q, Postgres, O, PgArguments> {
    query
        .bind(name)
        .bind(moving.map(|(_, to)| to.position.tx_id))
        .bind(moving.map(|(_, to)| to.position.position))
        .bind(moving.map(|(_, to)| to.stream_seq as i64))
        .bind(moving.map(|(from, _)| from as i64))
        .bind(sent.after)
        .bind(sent.up_to)
}

/// Writes a checkpoint at the end of a batch, as [`save_keeping`] does, but only if it stands at
/// stream sequence `from`, where the runner left it: the batch did not read it first, so this
/// makes sure. The same statement deletes the outbox rows whose pushes are sent, as the read
/// would have. Answers `None` if the checkpoint stood elsewhere (the caller rolls back), or the
/// batch's outbox row.
pub(crate) async fn save_keeping_after(
    conn: &mut PgConnection,
    name: &str,
    from: u64,
    at: Checkpoint,
    pushes: &[Push],
    sent: Forget,
) -> Result<Option<Option<i64>>, sqlx::Error> {
    let sql = if pushes.is_empty() {
        concat!(move_sql!(), "SELECT NULL::int8 FROM moved")
    } else {
        concat!(
            move_sql!(),
            "INSERT INTO push_outbox (pushes) SELECT $8 FROM moved RETURNING id"
        )
    };
    let mut query = bind_move(sqlx::query_as(sql), name, Some((from, at)), sent);
    if !pushes.is_empty() {
        query = query.bind(sqlx::types::Json(pushes));
    }
    let row: Option<(Option<i64>,)> = query.fetch_optional(&mut *conn).await?;
    Ok(row.map(|(id,)| id))
}

/// What [`stands_free_at`] found.
#[derive(Debug)]
pub(crate) struct Standing {
    /// The move it was given was made: the checkpoint stood where it starts.
    pub moved: bool,
    /// The checkpoint stands at the sequence asked about (after the move) and the view's lock is
    /// free.
    pub free: bool,
    /// What the read it was given answered, in the same snapshot.
    pub read: Option<serde_json::Value>,
}

/// Whether a checkpoint stands at stream sequence `from` while its view's lock (`lock_key`) is
/// free: no batch or replay holds it. The lock is tried and let go within the statement. A batch
/// that needs no transaction asks this before it does anything, so it goes ahead only where a
/// transaction would. Before it answers, the same statement makes the move the previous such
/// batch left waiting, `before` (from the stream sequence it names to the checkpoint it
/// names), only if the checkpoint stands where that starts; and, as [`advance`] does, it deletes
/// the outbox rows whose pushes are sent and commits asynchronously (docs/architecture.md). It
/// also makes the batch's `read`, if any ([`crate::PushRead`]): where the checkpoint stands
/// free, what that reads is the view as it stands right before the batch.
pub(crate) async fn stands_free_at(
    conn: &mut PgConnection,
    name: &str,
    lock_key: i64,
    from: u64,
    before: Option<(u64, Checkpoint)>,
    sent: Forget,
    read: Option<(&str, &[Vec<Uuid>])>,
) -> Result<Standing, sqlx::Error> {
    // The statement's snapshot is from before the move: where the checkpoint stands after it is
    // the moved row's, if it moved.
    let sql = format!(
        concat!(
            move_sql!(),
            "SELECT EXISTS (SELECT FROM moved),
                    COALESCE((SELECT stream_seq FROM moved),
                             (SELECT stream_seq FROM projection_checkpoints WHERE name = $1)) = $8
                      AND pg_try_advisory_xact_lock($9),
                    ({})
               FROM quick"
        ),
        read.map_or("NULL::jsonb", |(sql, _)| sql)
    );
    let mut query = bind_move(sqlx::query_as(&sql), name, before, sent)
        .bind(from as i64)
        .bind(lock_key);
    // Nine bound so far: the read's own are `$10` on, as `PushRead` tells the views.
    for uuids in read.map_or(&[][..], |(_, uuids)| uuids) {
        query = query.bind(uuids);
    }
    let (moved, free, read): (bool, Option<bool>, Option<serde_json::Value>) =
        query.fetch_one(conn).await?;
    Ok(Standing {
        moved,
        free: free == Some(true),
        read,
    })
}

/// Moves a checkpoint that stands at stream sequence `from` on to `to`, in one statement of its
/// own that also deletes the outbox rows whose pushes are sent, as a batch does
/// ([`load_forgetting`], [`save_keeping_after`]): answers whether it stood there.
pub(crate) async fn advance(
    conn: &mut PgConnection,
    name: &str,
    from: u64,
    to: Checkpoint,
    sent: Forget,
) -> Result<bool, sqlx::Error> {
    let (moved,): (bool,) = bind_move(
        sqlx::query_as(concat!(
            move_sql!(),
            "SELECT EXISTS (SELECT FROM moved) FROM quick"
        )),
        name,
        Some((from, to)),
        sent,
    )
    .fetch_one(conn)
    .await?;
    Ok(moved)
}

/// Writes a batch of a view with one statement outside a transaction
/// ([`crate::ReadModel::write_alone`]): the view's `write`, common table expressions whose
/// parameters `args` holds, gated by its one-row `go`. Within the statement the view's lock
/// (`lock_key`) is tried, and the checkpoint moved from stream sequence `from` to `to` only if
/// the lock is free and the checkpoint stands there; `go` says whether it moved, so that either
/// failing writes nothing. The lock, held until the statement commits, keeps it apart from a
/// replay and from a batch in a transaction, which hold it too. The statement's snapshot is
/// older than the try, but nothing it reads can have changed in between: every writer that held
/// the lock then changed where the checkpoint stands, and the move, which reads the newest row,
/// then finds it elsewhere; a swap that renamed the view's tables meanwhile would have waited
/// for the statement's own locks on them (taken before the try, so a swap may meet them in a
/// deadlock, which it tries again after: `replay.rs`). It commits asynchronously, as the
/// runner's batches do.
pub(crate) async fn write_gated(
    conn: &mut PgConnection,
    name: &str,
    lock_key: i64,
    from: u64,
    to: Checkpoint,
    write: &str,
    args: PgArguments,
) -> Result<bool, sqlx::Error> {
    // The view's parameters come first, so that its SQL numbers them from `$1` whatever this
    // statement binds.
    let first = args.len() + 1;
    let [lock, tx_id, position, seq, name_at, from_at] = std::array::from_fn(|i| first + i);
    let sql = format!(
        "WITH quick AS (SELECT set_config('synchronous_commit', 'off', true)),
              gate AS (SELECT pg_try_advisory_xact_lock(${lock}) AS free),
              moved AS (
                UPDATE projection_checkpoints
                   SET tx_id = ${tx_id}, position = ${position}, stream_seq = ${seq},
                       updated_at = now()
                  FROM quick, gate
                 WHERE gate.free AND name = ${name_at} AND stream_seq = ${from_at}
                RETURNING stream_seq),
              go AS (SELECT EXISTS (SELECT FROM moved) AS go),
              {write}
         SELECT go FROM go"
    );
    let (moved,): (bool,) = sqlx::query_as_with(&sql, args)
        .bind(lock_key)
        .bind(to.position.tx_id)
        .bind(to.position.position)
        .bind(to.stream_seq as i64)
        .bind(name)
        .bind(from as i64)
        .fetch_one(conn)
        .await?;
    Ok(moved)
}
