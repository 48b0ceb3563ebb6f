//! `moim restore-check`: what an operator runs after restoring PostgreSQL from a backup, or
//! moving it to another cluster, before starting Moim on it (docs/operations.md).
//!
//! PostgreSQL is the source of truth; JetStream's event stream is a copy the relay keeps in the
//! events' global order, so that stream sequence n is the n-th event. A restore can break that
//! copy in two ways, and this command finds both instead of leaving them to the relay's refusal
//! at start-up:
//! - the cluster's transaction counter is behind the restored events' (`tx_id` is an `xid8`):
//!   new events would sort before old ones. Only `pg_resetwal` moves the counter, so the command
//!   prints the exact invocation;
//! - the stream holds what this database does not (it kept running past the backup, or belongs
//!   to another deployment): with `--reset-stream` the command deletes it, and the relay re-fills
//!   it from the database. The read models' checkpoints, restored with the database, then
//!   continue where they were, since the re-filled stream numbers the events as before.

use anyhow::{bail, Context};
use async_nats::jetstream;
use domain::Position;
use moim_nats::{EventEnvelope, Subjects};
use sqlx::PgPool;

use crate::config::Settings;

/// Transactions kept between the restored events and the counter `pg_resetwal` is told to set.
const XID_MARGIN: i64 = 1_000_000;

/// Checks the restored database and the stream against each other; with `reset_stream`, deletes
/// a stream that does not match. Answers what it found, line by line.
pub async fn run(settings: &Settings, reset_stream: bool) -> anyhow::Result<Vec<String>> {
    let pool = crate::startup::database(settings).await?;
    let mut found = vec!["migrations: applied".to_owned()];
    found.push(horizon(&pool).await?);
    found.extend(checkpoints(&pool).await?);
    let nats = async_nats::connect(&settings.nats_url)
        .await
        .context("connecting to NATS (NATS_URL)")?;
    let js = jetstream::new(nats);
    let subjects = Subjects::new(&settings.subject_prefix);
    found.push(stream(&pool, &js, &subjects, reset_stream).await?);
    Ok(found)
}

/// The restored events must lie below the cluster's next transaction id.
async fn horizon(pool: &PgPool) -> anyhow::Result<String> {
    let (stored, next): (Option<i64>, i64) = sqlx::query_as(
        "SELECT (SELECT max(tx_id)::text::bigint FROM events),
                pg_snapshot_xmax(pg_current_snapshot())::text::bigint",
    )
    .fetch_one(pool)
    .await?;
    let Some(stored) = stored.filter(|&s| s >= next) else {
        return Ok(format!(
            "transaction horizon: ok (events up to {}, next transaction {next})",
            stored.unwrap_or(0)
        ));
    };
    let target = stored + XID_MARGIN;
    bail!(
        "the events were written up to transaction {stored}, but this cluster's next transaction \
         id is {next}: new events would sort before stored ones and never be published. Stop \
         PostgreSQL and run `pg_resetwal -e {} -x {} <data directory>`, start it, and run this \
         check again.",
        target >> 32,
        target & 0xffff_ffff
    )
}

/// How many events lie at or before `at`: the stream sequence that event has.
async fn events_through(pool: &PgPool, at: Position) -> anyhow::Result<(i64, bool)> {
    Ok(sqlx::query_as(
        "SELECT (SELECT count(*) FROM events
                 WHERE (tx_id, position) <= ($1::bigint::text::xid8, $2)),
                EXISTS (SELECT 1 FROM events
                        WHERE tx_id = $1::bigint::text::xid8 AND position = $2)",
    )
    .bind(at.tx_id)
    .bind(at.position)
    .fetch_one(pool)
    .await?)
}

/// Every read model's checkpoint must name an event of this database, at its place.
async fn checkpoints(pool: &PgPool) -> anyhow::Result<Vec<String>> {
    let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT name, tx_id, position, stream_seq FROM projection_checkpoints ORDER BY name",
    )
    .fetch_all(pool)
    .await?;
    let mut found = Vec::new();
    for (name, tx_id, position, seq) in rows {
        let at = Position { tx_id, position };
        if at == Position::START {
            continue;
        }
        let (through, exists) = events_through(pool, at).await?;
        if !exists || through != seq {
            bail!(
                "the read model `{name}` is checkpointed at an event this database places \
                 differently (stream sequence {seq}, here {through}); rebuild it with \
                 `moim replay {name}`"
            );
        }
        found.push(format!("read model {name}: at event {seq}"));
    }
    Ok(found)
}

/// The stream must be empty or a prefix of this database's events in order.
async fn stream(
    pool: &PgPool,
    js: &jetstream::Context,
    subjects: &Subjects,
    reset: bool,
) -> anyhow::Result<String> {
    let name = subjects.stream_name();
    let Ok(mut stream) = js.get_stream(&name).await else {
        return Ok(format!(
            "stream {name}: absent; the relay creates it and fills it from the database"
        ));
    };
    let last = stream
        .info()
        .await
        .context("reading the stream")?
        .state
        .last_sequence;
    if last == 0 {
        return Ok(format!(
            "stream {name}: empty; the relay fills it from the database"
        ));
    }
    let message = stream
        .get_raw_message(last)
        .await
        .context("reading the stream's last message")?;
    let matches = match EventEnvelope::position_in(Some(&message.headers)) {
        Some(at) => {
            let (through, exists) = events_through(pool, at).await?;
            exists && u64::try_from(through).is_ok_and(|n| n == last)
        }
        None => false,
    };
    if matches {
        return Ok(format!(
            "stream {name}: its {last} events are this database's first {last}; the relay continues"
        ));
    }
    if !reset {
        bail!(
            "the stream {name} holds events this database does not have at those places (it ran \
             on past the backup, or belongs to another deployment). It must be re-filled from the \
             database: run `moim restore-check --reset-stream`"
        );
    }
    js.delete_stream(&name)
        .await
        .with_context(|| format!("deleting the stream {name}"))?;
    Ok(format!(
        "stream {name}: deleted; the relay re-fills it from the database when Moim starts"
    ))
}
