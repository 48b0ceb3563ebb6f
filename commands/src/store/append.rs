//! Appending: the events of one or more aggregates in one `INSERT … UNNEST` statement, with
//! their metadata, answering the global position of the last one. Appends that need no
//! transaction of the caller's go through group commit (`group`). Moim appends with its own SQL
//! rather than postgres-es's `commit` because one transaction must be able to write several
//! aggregates (a couple match writes an invite and two users) and hand back the position that
//! becomes the read-your-writes token; postgres-es commits one aggregate and returns nothing.

use std::sync::Arc;

use domain::Position;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

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
    /// The group the append was in had no connection, or its connection failed while writing
    /// it: in the second case whether it was written is unknown, as for a lone append whose
    /// connection fails.
    #[error("the append's group could not be written")]
    Group(#[source] Arc<sqlx::Error>),
    /// The group's writer stopped before answering (the runtime is shutting down).
    #[error("the append's group was abandoned")]
    Abandoned,
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
            other @ (AppendError::Group(_) | AppendError::Abandoned) => CommandError::Append(other),
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
        let rows = columns
            .insert(conn, "RETURNING tx_id::text::bigint AS tx_id, position")
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

    /// Appends atomically, sharing a statement and a commit with the appends made at the same
    /// moment (group commit, see `group`).
    pub async fn append_all(&self, changes: Vec<Rows>) -> Result<Position, AppendError> {
        self.groups.append(changes).await
    }

    /// Appends in a transaction of its own. Without a snapshot to write the append is a single
    /// statement, which PostgreSQL runs as its own transaction: one round trip.
    pub(super) async fn append_alone(
        pool: &PgPool,
        changes: &[Rows],
    ) -> Result<Position, AppendError> {
        let appended = if changes.iter().all(|c| c.snapshot.is_none()) {
            Self::append(&mut *pool.acquire().await?, changes).await
        } else {
            let mut tx = pool.begin().await?;
            match Self::append(&mut tx, changes).await {
                Ok(position) => tx.commit().await.map(|()| position).map_err(Into::into),
                refused => refused,
            }
        };
        match appended {
            // PostgreSQL names the first unique index a row breaks, and the sequence's comes
            // first: an event written already (a send retried at once, its first try written
            // just before) is a duplicate, as a group answers it, not a stale sequence.
            Err(AppendError::Conflict) if Self::written_already(pool, changes).await? => {
                Err(AppendError::Duplicate)
            }
            other => other,
        }
    }

    /// Whether any event of `changes` is in the store.
    async fn written_already(pool: &PgPool, changes: &[Rows]) -> Result<bool, AppendError> {
        let ids: Vec<Uuid> = changes
            .iter()
            .flat_map(|change| change.events.iter().map(|row| row.event_id))
            .collect();
        let found: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM events WHERE event_id = ANY($1))")
                .bind(&ids)
                .fetch_one(pool)
                .await?;
        Ok(found)
    }
}

/// The append's columns, one array each, for `UNNEST`.
#[derive(Default)]
pub(super) struct Columns<'a> {
    pub(super) types: Vec<&'static str>,
    pub(super) ids: Vec<&'a str>,
    pub(super) seqs: Vec<i64>,
    pub(super) kinds: Vec<&'static str>,
    pub(super) versions: Vec<&'static str>,
    pub(super) payloads: Vec<&'a serde_json::Value>,
    pub(super) metadata: Vec<&'a serde_json::Value>,
    pub(super) event_ids: Vec<uuid::Uuid>,
}

impl<'a> Columns<'a> {
    /// Inserts the rows with one `INSERT … SELECT * FROM UNNEST(…)`, ending with `tail` (its
    /// `ON CONFLICT` and `RETURNING` clauses), and answers the rows it returns.
    pub(super) async fn insert(
        &self,
        conn: &mut PgConnection,
        tail: &str,
    ) -> Result<Vec<sqlx::postgres::PgRow>, sqlx::Error> {
        let sql = format!(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version,
                                 payload, metadata, event_id)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[],
                                  $6::jsonb[], $7::jsonb[], $8::uuid[])
             {tail}"
        );
        sqlx::query(&sql)
            .bind(&self.types)
            .bind(&self.ids)
            .bind(&self.seqs)
            .bind(&self.kinds)
            .bind(&self.versions)
            .bind(&self.payloads)
            .bind(&self.metadata)
            .bind(&self.event_ids)
            .fetch_all(&mut *conn)
            .await
    }

    pub(super) fn push(&mut self, change: &'a Rows, sealed: &'a [Option<serde_json::Value>]) {
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

pub(super) async fn write_snapshot(
    conn: &mut PgConnection,
    change: &Rows,
) -> Result<(), sqlx::Error> {
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
