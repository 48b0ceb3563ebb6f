//! Appending: the events of one or more aggregates in one `INSERT … UNNEST` statement, with
//! their metadata, answering the global position of the last one. Moim appends with its own SQL
//! rather than postgres-es's `commit` because one transaction must be able to write several
//! aggregates (a couple match writes an invite and two users) and hand back the position that
//! becomes the read-your-writes token; postgres-es commits one aggregate and returns nothing.

use domain::Position;
use sqlx::{PgConnection, Row};

use super::{EventStore, Rows};
use crate::error::CommandError;

/// Why an append failed.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// Another writer appended to one of the aggregates first.
    #[error("optimistic concurrency conflict")]
    Conflict,
    /// An event with one of these ids exists: the request was already carried out.
    #[error("event exists already")]
    Duplicate,
    /// Anything else.
    #[error("append failed")]
    Database(#[from] sqlx::Error),
}

impl AppendError {
    fn from_insert(error: sqlx::Error) -> Self {
        let constraint = error
            .as_database_error()
            .and_then(|e| e.constraint())
            .map(str::to_owned);
        let code = error
            .as_database_error()
            .and_then(|e| e.code())
            .map(|c| c.into_owned());
        // A deadlock or serialization failure lost a race like a stale sequence does: retry.
        if matches!(code.as_deref(), Some("40P01" | "40001")) {
            return Self::Conflict;
        }
        match constraint.as_deref() {
            Some("events_pkey") => Self::Conflict,
            Some("events_event_id") => Self::Duplicate,
            _ => Self::Database(error),
        }
    }
}

impl From<AppendError> for CommandError {
    fn from(error: AppendError) -> Self {
        match error {
            AppendError::Conflict => CommandError::Conflict,
            AppendError::Duplicate => CommandError::Duplicate,
            AppendError::Database(e) => CommandError::Database(e),
        }
    }
}

impl EventStore {
    /// Appends the rows of several aggregates inside the caller's transaction and returns the
    /// position of the last event written. A stale sequence is [`AppendError::Conflict`]; an
    /// event id that exists already is [`AppendError::Duplicate`].
    pub async fn append(
        conn: &mut PgConnection,
        changes: &[Rows],
    ) -> Result<Position, AppendError> {
        let mut columns = Columns::default();
        // Rows in one global order, so two transactions touching the same aggregates take their
        // row locks in the same order and cannot deadlock.
        let mut changes: Vec<&Rows> = changes.iter().collect();
        changes.sort_by(|a, b| {
            (a.aggregate_type, &a.aggregate_id).cmp(&(b.aggregate_type, &b.aggregate_id))
        });
        let sealed = super::seal::seal(conn, &changes).await?;
        for (change, sealed) in changes.iter().zip(&sealed) {
            columns.push(change, sealed);
        }
        let rows = sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version,
                                 payload, metadata, event_id)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[],
                                  $6::jsonb[], $7::jsonb[], $8::uuid[])
             RETURNING tx_id::text::bigint AS tx_id, position",
        )
        .bind(&columns.types)
        .bind(&columns.ids)
        .bind(&columns.seqs)
        .bind(&columns.kinds)
        .bind(&columns.versions)
        .bind(&columns.payloads)
        .bind(&columns.metadata)
        .bind(&columns.event_ids)
        .fetch_all(&mut *conn)
        .await
        .map_err(AppendError::from_insert)?;
        // Counted once written (a transaction that rolls back later is rare enough to ignore).
        for (aggregate_type, event_type) in columns.types.iter().zip(&columns.kinds) {
            metrics::counter!("events_appended_total", "aggregate" => *aggregate_type, "event" => *event_type)
                .increment(1);
        }
        for change in &changes {
            write_snapshot(conn, change).await?;
        }
        let mut last = Position::START;
        for row in rows {
            last = last.max(Position {
                tx_id: row.try_get("tx_id")?,
                position: row.try_get("position")?,
            });
        }
        Ok(last)
    }

    /// Appends in a transaction of its own. Without a snapshot to write the append is a single
    /// statement, which PostgreSQL runs as its own transaction: one round trip.
    pub async fn append_all(&self, changes: &[Rows]) -> Result<Position, AppendError> {
        if changes.iter().all(|c| c.snapshot.is_none()) {
            return Self::append(&mut *self.pool.acquire().await?, changes).await;
        }
        let mut tx = self.pool.begin().await?;
        let position = Self::append(&mut tx, changes).await?;
        tx.commit().await?;
        Ok(position)
    }
}

/// The append's columns, one array each, for `UNNEST`.
#[derive(Default)]
struct Columns<'a> {
    types: Vec<&'static str>,
    ids: Vec<&'a str>,
    seqs: Vec<i64>,
    kinds: Vec<&'static str>,
    versions: Vec<&'static str>,
    payloads: Vec<&'a serde_json::Value>,
    metadata: Vec<&'a serde_json::Value>,
    event_ids: Vec<uuid::Uuid>,
}

impl<'a> Columns<'a> {
    fn push(&mut self, change: &'a Rows, sealed: &'a [Option<serde_json::Value>]) {
        for (i, (row, sealed)) in change.events.iter().zip(sealed).enumerate() {
            self.types.push(change.aggregate_type);
            self.ids.push(change.aggregate_id.as_str());
            self.seqs.push((change.first_sequence + i as u64) as i64);
            self.kinds.push(row.event_type);
            self.versions.push(row.event_version);
            self.payloads.push(sealed.as_ref().unwrap_or(&row.payload));
            self.metadata.push(&row.metadata);
            self.event_ids.push(row.event_id);
        }
    }
}

async fn write_snapshot(conn: &mut PgConnection, change: &Rows) -> Result<(), AppendError> {
    let Some((payload, count)) = &change.snapshot else {
        return Ok(());
    };
    let last = change.first_sequence + change.events.len() as u64 - 1;
    sqlx::query(
        "INSERT INTO snapshots (aggregate_type, aggregate_id, last_sequence, current_snapshot, payload)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE
         SET last_sequence = EXCLUDED.last_sequence, current_snapshot = EXCLUDED.current_snapshot,
             payload = EXCLUDED.payload, timestamp = now()",
    )
    .bind(change.aggregate_type)
    .bind(&change.aggregate_id)
    .bind(last as i64)
    .bind(*count as i64)
    .bind(payload)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
