//! The event store: postgres-es loads aggregates (snapshots and upcasting included); Moim's own
//! append writes the events of one or more aggregates in a single transaction and returns their
//! global position.

use std::future::Future;
use std::time::Duration;

use cqrs_es::persist::PersistedEventStore;
use cqrs_es::EventStore as _;
use domain::{Aggregate, DomainEvent, Position};
use postgres_es::PostgresEventRepository;
use rand::Rng;
use serde_json::Value;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::adapter::Es;
use crate::error::CommandError;

/// How often each aggregate type is snapshotted; long-lived streams load from the latest one.
fn snapshot_every(aggregate_type: &str) -> Option<u64> {
    match aggregate_type {
        domain::chat::ChatRoom::TYPE => Some(100),
        domain::game::Game::TYPE => Some(50),
        _ => None,
    }
}

/// An aggregate as loaded, with the sequence it was loaded at.
#[derive(Debug, Clone)]
pub struct Loaded<A> {
    /// Its id.
    pub id: String,
    /// Its state.
    pub aggregate: A,
    /// The sequence of its last event (0 for a new one).
    pub sequence: u64,
    snapshot_count: u64,
}

impl<A: Aggregate> Loaded<A> {
    /// Decides on `command` and returns the change to append (possibly with no events).
    pub fn decide(
        &self,
        command: A::Command,
        services: &dyn domain::Services,
    ) -> Result<Change<A>, CommandError> {
        let events = self
            .aggregate
            .handle(command, services)
            .map_err(CommandError::rejected)?;
        let mut after = self.aggregate.clone();
        for event in events.iter().cloned() {
            after.apply(event);
        }
        Ok(Change {
            loaded: self.clone(),
            events,
            after,
        })
    }
}

/// Events one aggregate is about to append, and its state after them.
#[derive(Debug, Clone)]
pub struct Change<A: Aggregate> {
    loaded: Loaded<A>,
    /// The new events.
    pub events: Vec<A::Event>,
    /// The aggregate with the new events applied.
    pub after: A,
}

/// A [`Change`] with its types erased, so changes to different aggregates share one append.
pub struct Rows {
    aggregate_type: &'static str,
    aggregate_id: String,
    first_sequence: u64,
    events: Vec<(&'static str, &'static str, Value, Uuid)>,
    snapshot: Option<(Value, u64)>,
}

impl<A: Aggregate> Change<A> {
    /// The aggregate as it stands once this change is appended.
    pub fn into_loaded(self) -> Loaded<A> {
        let sequence = self.loaded.sequence + self.events.len() as u64;
        let snapshotted = matches!(
            snapshot_every(A::TYPE),
            Some(every) if sequence / every > self.loaded.sequence / every
        );
        Loaded {
            id: self.loaded.id,
            aggregate: self.after,
            sequence,
            snapshot_count: self.loaded.snapshot_count + u64::from(snapshotted),
        }
    }

    /// Serialises the change for [`EventStore::append`].
    pub fn rows(&self) -> Result<Rows, CommandError> {
        let loaded = &self.loaded;
        let mut events = Vec::with_capacity(self.events.len());
        for event in &self.events {
            let payload =
                serde_json::to_value(event).map_err(|e| CommandError::Store(e.to_string()))?;
            let id = event.idempotency_id().unwrap_or_else(Uuid::now_v7);
            events.push((event.event_type(), event.event_version(), payload, id));
        }
        let last = loaded.sequence + events.len() as u64;
        let snapshot = match snapshot_every(A::TYPE) {
            Some(every) if last / every > loaded.sequence / every => {
                let payload = serde_json::to_value(&self.after)
                    .map_err(|e| CommandError::Store(e.to_string()))?;
                Some((payload, loaded.snapshot_count + 1))
            }
            _ => None,
        };
        Ok(Rows {
            aggregate_type: A::TYPE,
            aggregate_id: loaded.id.clone(),
            first_sequence: loaded.sequence + 1,
            events,
            snapshot,
        })
    }
}

/// An event found by id.
#[derive(Debug, Clone)]
pub struct FoundEvent {
    /// Its payload.
    pub payload: Value,
    /// Its global position.
    pub position: Position,
}

/// The PostgreSQL event store.
#[derive(Clone)]
pub struct EventStore {
    pool: PgPool,
}

impl EventStore {
    /// A store over `pool`, whose schema `migrations/` created.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Loads an aggregate through postgres-es, from its latest snapshot when it has one.
    #[tracing::instrument(skip(self), fields(aggregate = A::TYPE))]
    pub async fn load<A: Aggregate>(&self, id: &str) -> Result<Loaded<A>, CommandError>
    where
        A::Command: Send,
    {
        let repo = PostgresEventRepository::new(self.pool.clone());
        let store = match snapshot_every(A::TYPE) {
            Some(every) => {
                PersistedEventStore::<_, Es<A>>::new_snapshot_store(repo, every as usize)
            }
            None => PersistedEventStore::<_, Es<A>>::new_event_store(repo),
        };
        let context = store.load_aggregate(id).await.map_err(|e| match e {
            cqrs_es::AggregateError::DatabaseConnectionError(e) => {
                CommandError::Store(format!("database: {e}"))
            }
            other => CommandError::Store(other.to_string()),
        })?;
        Ok(Loaded {
            id: id.to_owned(),
            aggregate: context.aggregate.0,
            sequence: context.current_sequence as u64,
            snapshot_count: context.current_snapshot.unwrap_or(0) as u64,
        })
    }

    /// Appends the rows of several aggregates inside the caller's transaction and returns the
    /// position of the last event written. A stale sequence is [`CommandError::Conflict`]; an
    /// event id that exists already is [`AppendError::Duplicate`].
    pub async fn append(
        conn: &mut PgConnection,
        changes: &[Rows],
    ) -> Result<Position, AppendError> {
        let (mut types, mut ids, mut seqs, mut kinds, mut versions, mut payloads, mut event_ids) =
            (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
        // Rows in one global order, so two transactions touching the same aggregates take their
        // row locks in the same order and cannot deadlock.
        let mut changes: Vec<&Rows> = changes.iter().collect();
        changes.sort_by(|a, b| {
            (a.aggregate_type, &a.aggregate_id).cmp(&(b.aggregate_type, &b.aggregate_id))
        });
        for change in &changes {
            for (i, (kind, version, payload, event_id)) in change.events.iter().enumerate() {
                types.push(change.aggregate_type);
                ids.push(change.aggregate_id.as_str());
                seqs.push((change.first_sequence + i as u64) as i64);
                kinds.push(*kind);
                versions.push(*version);
                payloads.push(payload.clone());
                event_ids.push(*event_id);
            }
        }
        let rows = sqlx::query(
            "INSERT INTO events
                 (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, event_id)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[],
                                  $6::jsonb[], $7::uuid[])
             RETURNING tx_id::text::bigint AS tx_id, position",
        )
        .bind(&types)
        .bind(&ids)
        .bind(&seqs)
        .bind(&kinds)
        .bind(&versions)
        .bind(&payloads)
        .bind(&event_ids)
        .fetch_all(&mut *conn)
        .await
        .map_err(AppendError::from_insert)?;
        for change in &changes {
            let Some((payload, count)) = &change.snapshot else {
                continue;
            };
            let last = change.first_sequence + change.events.len() as u64 - 1;
            sqlx::query(
                "INSERT INTO snapshots
                     (aggregate_type, aggregate_id, last_sequence, current_snapshot, payload)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE
                 SET last_sequence = EXCLUDED.last_sequence,
                     current_snapshot = EXCLUDED.current_snapshot,
                     payload = EXCLUDED.payload, timestamp = now()",
            )
            .bind(change.aggregate_type)
            .bind(&change.aggregate_id)
            .bind(last as i64)
            .bind(*count as i64)
            .bind(payload)
            .execute(&mut *conn)
            .await?;
        }
        rows.iter()
            .map(|r| {
                Ok(Position {
                    tx_id: r.try_get("tx_id")?,
                    position: r.try_get("position")?,
                })
            })
            .max_by_key(|p: &Result<Position, sqlx::Error>| p.as_ref().ok().copied())
            .unwrap_or(Ok(Position::START))
            .map_err(AppendError::Database)
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

    /// An aggregate's latest sequence and that event's position (0 and the start if it has
    /// none): what a command that changed nothing answers, and how a cached state is confirmed.
    pub async fn latest(
        &self,
        aggregate_type: &str,
        id: &str,
    ) -> Result<(u64, Position), sqlx::Error> {
        let row: Option<(i64, i64, i64)> = sqlx::query_as(
            "SELECT sequence, tx_id::text::bigint, position FROM events
             WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence DESC LIMIT 1",
        )
        .bind(aggregate_type)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(
            row.map_or((0, Position::START), |(sequence, tx_id, position)| {
                (sequence as u64, Position { tx_id, position })
            }),
        )
    }

    /// An event by its id.
    pub async fn find_event(&self, event_id: Uuid) -> Result<Option<FoundEvent>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT payload, tx_id::text::bigint AS tx_id, position FROM events WHERE event_id = $1",
        )
        .bind(event_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(FoundEvent {
                payload: row.try_get("payload")?,
                position: Position {
                    tx_id: row.try_get("tx_id")?,
                    position: row.try_get("position")?,
                },
            })
        })
        .transpose()
    }

    /// Which of `ids` are registered users, read from the store itself (never stale).
    pub async fn existing_users(&self, ids: &[Uuid]) -> Result<Vec<Uuid>, sqlx::Error> {
        let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT aggregate_id FROM events
             WHERE aggregate_type = $1 AND aggregate_id = ANY($2) AND sequence = 1",
        )
        .bind(domain::user::User::TYPE)
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(id,)| id.parse().ok())
            .collect())
    }
}

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
    #[error(transparent)]
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

/// Runs `attempt` again while it reports [`CommandError::Conflict`], with jittered backoff, up
/// to a bound; then gives up with [`CommandError::Contention`].
pub async fn retry_conflicts<T, F, Fut>(what: &str, mut attempt: F) -> Result<T, CommandError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, CommandError>>,
{
    const ATTEMPTS: u32 = 30;
    for n in 0..ATTEMPTS {
        match attempt().await {
            Err(CommandError::Conflict) => {
                let cap = 2u64.saturating_pow(n.min(6)).min(50);
                let pause = rand::rng().random_range(0..=cap);
                tracing::debug!(what, attempt = n, pause, "conflict, retrying");
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            other => return other,
        }
    }
    Err(CommandError::Contention(what.to_owned()))
}
