//! Group commit: appends that wait at the same moment share one statement and one commit.
//!
//! A send is tiny next to what its commit costs (a round trip, a WAL flush, the store's notify),
//! so the appends that queue up while a write is under way are written by the next one together.
//! Nobody waits for company: an append that finds the writer free is written at once, alone, as
//! it was before groups. A group never makes one append's failure its neighbours': the rows go in
//! with `ON CONFLICT DO NOTHING`, and only the append whose row was refused is answered with its
//! conflict (or with `Duplicate`, when its event id exists). Each group is written by a task of
//! its own, so a caller that stops waiting cannot cut short the write its neighbours wait for.

use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};

use domain::Position;
use futures::FutureExt;
use sqlx::{Connection, PgConnection, PgPool, Row};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use super::append::{write_snapshot, AppendError, Columns};
use super::{EventStore, Rows};

/// How many groups are written at once. One: the next group fills while it commits. A second
/// writer took an append that came while the first wrote at once, mostly alone, so at a moderate
/// rate a group held 2.1 events against 3.5 with one, and every group is a commit, a WAL flush and
/// a round of the relay (docs/performance.md, "One group writer").
const WRITERS: usize = 1;
/// Most events per group, so one statement stays small.
const MAX_EVENTS: usize = 512;

/// An append waiting for its group.
struct Pending {
    changes: Vec<Rows>,
    answer: oneshot::Sender<Result<Position, AppendError>>,
}

/// The appends waiting for a writer, and the writers.
pub(crate) struct Groups {
    pool: PgPool,
    waiting: Mutex<Vec<Pending>>,
    writers: Arc<Semaphore>,
}

impl Groups {
    pub(crate) fn new(pool: PgPool) -> Self {
        Self {
            pool,
            waiting: Mutex::new(Vec::new()),
            writers: Arc::new(Semaphore::new(WRITERS)),
        }
    }

    /// Appends `changes` atomically, in the next group written.
    pub(crate) async fn append(
        self: &Arc<Self>,
        changes: Vec<Rows>,
    ) -> Result<Position, AppendError> {
        let (answer, answered) = oneshot::channel();
        self.queue().push(Pending { changes, answer });
        Arc::clone(self).write_next();
        answered.await.unwrap_or(Err(AppendError::Abandoned))
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Vec<Pending>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts writing the waiting appends if a writer is free. A writer that is done gives back
    /// its permit and then looks again; one that finds nothing looks once more after giving its
    /// permit back, so an append queued while every permit was held is never left waiting.
    fn write_next(self: Arc<Self>) {
        loop {
            let Ok(permit) = Arc::clone(&self.writers).try_acquire_owned() else {
                return;
            };
            let group = self.take_group();
            if !group.is_empty() {
                tokio::spawn(self.write(group, permit));
                return;
            }
            drop(permit);
            if self.queue().is_empty() {
                return;
            }
        }
    }

    fn take_group(&self) -> Vec<Pending> {
        let mut waiting = self.queue();
        let mut events = 0;
        let mut taken = 0;
        for pending in waiting.iter() {
            let size: usize = pending.changes.iter().map(|c| c.events.len()).sum();
            if taken > 0 && events + size > MAX_EVENTS {
                break;
            }
            events += size;
            taken += 1;
        }
        waiting.drain(..taken).collect()
    }

    async fn write(self: Arc<Self>, group: Vec<Pending>, permit: OwnedSemaphorePermit) {
        // A write that panicked would never look at the queue again, and with one writer every
        // append after it would wait; its own appends are answered `Abandoned`.
        if AssertUnwindSafe(self.write_answering(group))
            .catch_unwind()
            .await
            .is_err()
        {
            tracing::error!("a group write panicked; its appends were abandoned");
        }
        drop(permit);
        self.write_next();
    }

    /// Writes `group` and answers each of its appends.
    async fn write_answering(&self, group: Vec<Pending>) {
        metrics::histogram!("append_group_size").record(group.len() as f64);
        if group.len() == 1 {
            for Pending { changes, answer } in group {
                let _ = answer.send(EventStore::append_alone(&self.pool, &changes).await);
            }
        } else {
            let changes: Vec<&[Rows]> = group.iter().map(|p| p.changes.as_slice()).collect();
            match write_group(&self.pool, &changes).await {
                Ok(outcomes) => {
                    for (pending, outcome) in group.into_iter().zip(outcomes) {
                        let _ = pending.answer.send(outcome);
                    }
                }
                // Nothing was written (the server refused it, or its transaction rolled back):
                // each append is written alone, and only the one at fault fails.
                Err(Unwritten::Nothing(error)) => {
                    tracing::debug!(%error, "group refused, writing its appends one by one");
                    for pending in group {
                        let outcome = EventStore::append_alone(&self.pool, &pending.changes).await;
                        let _ = pending.answer.send(outcome);
                    }
                }
                // No connection was had, so written alone each would wait for one again (the
                // pool's whole timeout, while every append behind the group waits too); or whether
                // the group was written is unknown, as a lone append's would be when its
                // connection fails. Either way every append in it reports the failure.
                Err(Unwritten::Unreached(error) | Unwritten::Unknown(error)) => {
                    let error = Arc::new(error);
                    for pending in group {
                        let _ = pending
                            .answer
                            .send(Err(AppendError::Group(Arc::clone(&error))));
                    }
                }
            }
        }
    }
}

/// Why a group was not (known to be) written.
enum Unwritten {
    /// Nothing of it was written.
    Nothing(sqlx::Error),
    /// No connection could be had for it, so nothing was written.
    Unreached(sqlx::Error),
    /// It may have been: the connection failed at the commit, or a query after the autocommitted
    /// statement failed.
    Unknown(sqlx::Error),
}

impl Unwritten {
    fn into_error(self) -> sqlx::Error {
        match self {
            Self::Nothing(error) | Self::Unreached(error) | Self::Unknown(error) => error,
        }
    }

    /// A failure before anything was committed: a refusal by the server wrote nothing, a lost
    /// connection leaves it unknown.
    fn before_commit(error: sqlx::Error) -> Self {
        if error.as_database_error().is_some() {
            Self::Nothing(error)
        } else {
            Self::Unknown(error)
        }
    }
}

/// Writes several appends in one statement; in one transaction when one of them has more than
/// one event or a snapshot (so that it cannot be written in part). Answers each one's outcome.
async fn write_group(
    pool: &PgPool,
    appends: &[&[Rows]],
) -> Result<Vec<Result<Position, AppendError>>, Unwritten> {
    let mut conn = pool.acquire().await.map_err(Unwritten::Unreached)?;
    let whole_rows = appends
        .iter()
        .all(|changes| changes.iter().map(|c| c.events.len()).sum::<usize>() == 1);
    let no_snapshots = appends
        .iter()
        .flat_map(|c| c.iter())
        .all(|c| c.snapshot.is_none());
    if whole_rows && no_snapshots {
        return insert_group(&mut conn, appends).await;
    }
    let mut tx = Connection::begin(&mut *conn)
        .await
        .map_err(Unwritten::Nothing)?;
    // Whatever failed inside the transaction, it rolls back.
    let outcomes = insert_group(&mut tx, appends)
        .await
        .map_err(|unwritten| Unwritten::Nothing(unwritten.into_error()))?;
    tx.commit().await.map_err(Unwritten::before_commit)?;
    Ok(outcomes)
}

/// Inserts the group's rows and sorts out each append's outcome. Without a transaction around
/// it the insert commits at once, so a failure after it leaves the outcome unknown.
async fn insert_group(
    conn: &mut PgConnection,
    appends: &[&[Rows]],
) -> Result<Vec<Result<Position, AppendError>>, Unwritten> {
    // One global order of aggregates, as a lone append takes, so groups written at once by two
    // processes lock rows in the same order.
    let mut changes: Vec<(usize, &Rows)> = appends
        .iter()
        .enumerate()
        .flat_map(|(n, changes)| changes.iter().map(move |c| (n, c)))
        .collect();
    changes.sort_by(|(_, a), (_, b)| {
        (a.aggregate_type, &a.aggregate_id, a.first_sequence).cmp(&(
            b.aggregate_type,
            &b.aggregate_id,
            b.first_sequence,
        ))
    });
    let rows: Vec<&Rows> = changes.iter().map(|(_, c)| *c).collect();
    let sealed = super::seal::seal(conn, &rows)
        .await
        .map_err(Unwritten::before_commit)?;
    let mut columns = Columns::default();
    let mut owners = Vec::new();
    for ((owner, change), sealed) in changes.iter().zip(&sealed) {
        columns.push(change, sealed);
        owners.extend(std::iter::repeat_n(*owner, change.events.len()));
    }
    let written = columns
        .insert(
            conn,
            "ON CONFLICT DO NOTHING
             RETURNING event_id, aggregate_type, aggregate_id, sequence,
                       tx_id::text::bigint AS tx_id, position",
        )
        .await
        .map_err(Unwritten::before_commit)?;
    sort_out(conn, appends, &changes, &columns, &owners, &written)
        .await
        .map_err(Unwritten::Unknown)
}

/// Each append's outcome from the rows that came back; an append with a refused row has its
/// other rows deleted again, and is told whether its event exists (a duplicate) or not.
async fn sort_out(
    conn: &mut PgConnection,
    appends: &[&[Rows]],
    changes: &[(usize, &Rows)],
    columns: &Columns<'_>,
    owners: &[usize],
    written: &[sqlx::postgres::PgRow],
) -> Result<Vec<Result<Position, AppendError>>, sqlx::Error> {
    let mut positions = HashMap::with_capacity(written.len());
    for row in written {
        let key: (Uuid, String, String, i64) = (
            row.try_get("event_id")?,
            row.try_get("aggregate_type")?,
            row.try_get("aggregate_id")?,
            row.try_get("sequence")?,
        );
        let at = Position {
            tx_id: row.try_get("tx_id")?,
            position: row.try_get("position")?,
        };
        positions.insert(key, at);
    }
    // Where each row was written, if it was. A row given twice in one group went in once, as
    // the first of the two (the insert reads its rows in order): that one takes it.
    let inserted: Vec<Option<Position>> = (0..owners.len())
        .map(|i| {
            let key = (
                columns.event_ids[i],
                columns.types[i].to_owned(),
                columns.ids[i].to_owned(),
                columns.seqs[i],
            );
            positions.remove(&key)
        })
        .collect();
    // Each append's last position, or none when one of its rows was refused.
    let mut outcomes: Vec<Option<Position>> = vec![Some(Position::START); appends.len()];
    for (owner, at) in owners.iter().zip(&inserted) {
        outcomes[*owner] = outcomes[*owner].zip(*at).map(|(last, at)| last.max(at));
    }
    let refused: Vec<usize> = (0..owners.len())
        .filter(|&i| outcomes[owners[i]].is_none())
        .collect();

    // A refused append leaves nothing behind (it can have written a part only inside a
    // transaction: an append of one row is written whole or not at all).
    let stray: Vec<Uuid> = refused
        .iter()
        .filter(|&&i| inserted[i].is_some())
        .map(|&i| columns.event_ids[i])
        .collect();
    if !stray.is_empty() {
        sqlx::query("DELETE FROM events WHERE event_id = ANY($1)")
            .bind(&stray)
            .execute(&mut *conn)
            .await?;
    }
    let asked: Vec<Uuid> = refused.iter().map(|&i| columns.event_ids[i]).collect();
    let existing: HashSet<Uuid> = if asked.is_empty() {
        HashSet::new()
    } else {
        sqlx::query_scalar("SELECT event_id FROM events WHERE event_id = ANY($1)")
            .bind(&asked)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .collect()
    };
    let duplicates: HashSet<usize> = refused
        .iter()
        .filter(|&&i| existing.contains(&columns.event_ids[i]))
        .map(|&i| owners[i])
        .collect();

    for (owner, change) in changes {
        if outcomes[*owner].is_some() {
            write_snapshot(conn, change).await?;
        }
    }
    for (i, owner) in owners.iter().enumerate() {
        if outcomes[*owner].is_some() {
            metrics::counter!("events_appended_total", "aggregate" => columns.types[i], "event" => columns.kinds[i])
                .increment(1);
        }
    }
    Ok(outcomes
        .iter()
        .enumerate()
        .map(|(n, outcome)| match outcome {
            Some(position) => Ok(*position),
            None if duplicates.contains(&n) => Err(AppendError::Duplicate),
            None => Err(AppendError::Conflict),
        })
        .collect())
}
