//! Reading the store: aggregates through postgres-es, from their latest snapshot when they have
//! one, with the domain's upcasters applied to old events on the way in; and the few write-side
//! lookups that must never be stale (an aggregate's latest sequence, an event by id, which users
//! exist).

use cqrs_es::persist::{EventUpcaster, PersistedEventStore, SerializedEvent};
use cqrs_es::{AggregateError, EventStore as _};
use domain::{Aggregate, Position};
use postgres_es::PostgresEventRepository;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sqlx::Row;
use uuid::Uuid;

use super::{EventStore, Loaded};
use crate::adapter::Es;
use crate::error::CommandError;

/// The domain's upcasters (`domain::upcast`) as cqrs-es sees them.
struct DomainUpcasters;

impl EventUpcaster for DomainUpcasters {
    fn can_upcast(&self, event_type: &str, event_version: &str) -> bool {
        domain::upcast::ALL
            .iter()
            .any(|u| u.event_type == event_type && u.from == event_version)
    }

    fn upcast(&self, event: SerializedEvent) -> SerializedEvent {
        let (event_version, payload) = domain::upcast::upcast(
            &event.aggregate_type,
            &event.event_type,
            &event.event_version,
            event.payload,
        );
        SerializedEvent {
            event_version,
            payload,
            ..event
        }
    }
}

/// Opens the personal fields of a user's events with their key (`domain::personal`), or reads
/// them as a deleted user's when the key is gone.
struct Opener {
    key: Option<[u8; 32]>,
}

impl EventUpcaster for Opener {
    fn can_upcast(&self, event_type: &str, _: &str) -> bool {
        !domain::personal::fields(domain::user::User::TYPE, event_type).is_empty()
    }

    fn upcast(&self, mut event: SerializedEvent) -> SerializedEvent {
        domain::personal::open_payload(
            &event.aggregate_type,
            &event.event_type,
            &mut event.payload,
            self.key.as_ref(),
        );
        event
    }
}

/// An event found by id.
#[derive(Debug, Clone)]
pub struct FoundEvent {
    /// Its id.
    pub event_id: Uuid,
    /// Its aggregate type.
    pub aggregate_type: String,
    /// Its type.
    pub event_type: String,
    /// The version it was stored as.
    pub event_version: String,
    /// Its payload as stored.
    pub payload: Value,
    /// Its global position.
    pub position: Position,
}

impl FoundEvent {
    /// The event as today's type, upcast from whatever version it was stored as.
    pub fn decode<E: DeserializeOwned>(self) -> Result<E, CommandError> {
        domain::upcast::decode(
            &self.aggregate_type,
            &self.event_type,
            &self.event_version,
            self.payload,
        )
        .map_err(|source| CommandError::Decode {
            event_id: self.event_id,
            source,
        })
    }
}

impl EventStore {
    /// Loads an aggregate through postgres-es, from its latest snapshot when it has one.
    #[tracing::instrument(skip(self), fields(aggregate = A::TYPE))]
    pub async fn load<A: Aggregate>(&self, id: &str) -> Result<Loaded<A>, CommandError>
    where
        A::Command: Send,
    {
        let repo = PostgresEventRepository::new(self.pool.clone());
        let mut upcasters: Vec<Box<dyn EventUpcaster>> = Vec::new();
        if A::TYPE == domain::user::User::TYPE {
            let user: Option<Uuid> = id.parse().ok();
            let key = match user {
                Some(user) => {
                    let mut conn = self.pool.acquire().await?;
                    super::seal::keys_of(&mut conn, &[user])
                        .await?
                        .remove(&user)
                }
                None => None,
            };
            upcasters.push(Box::new(Opener { key }));
        }
        upcasters.push(Box::new(DomainUpcasters));
        let store = match A::SNAPSHOT_EVERY {
            Some(every) => {
                PersistedEventStore::<_, Es<A>>::new_snapshot_store(repo, every as usize)
            }
            None => PersistedEventStore::<_, Es<A>>::new_event_store(repo),
        }
        .with_upcasters(upcasters);
        let context = store
            .load_aggregate(id)
            .await
            .map_err(|error| CommandError::Load {
                aggregate: A::TYPE,
                id: id.to_owned(),
                // cqrs-es shows a wrapped cause's message but does not name it as its source:
                // the cause itself is kept, so a pool's timeout, say, can be told from a fault.
                source: match error {
                    AggregateError::DatabaseConnectionError(cause)
                    | AggregateError::DeserializationError(cause)
                    | AggregateError::UnexpectedError(cause) => cause,
                    other => Box::new(other),
                },
            })?;
        Ok(Loaded {
            id: id.to_owned(),
            aggregate: context.aggregate.0,
            sequence: context.current_sequence as u64,
            snapshot_count: context.current_snapshot.unwrap_or(0) as u64,
        })
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
            "SELECT event_id, aggregate_type, event_type, event_version, payload,
                    tx_id::text::bigint AS tx_id, position
             FROM events WHERE event_id = $1",
        )
        .bind(event_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(found).transpose()
    }

    /// The `MessageSent` numbered `seq` in a room, through the index on message numbers.
    pub async fn find_message(
        &self,
        room_id: Uuid,
        seq: i64,
    ) -> Result<Option<FoundEvent>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT event_id, aggregate_type, event_type, event_version, payload,
                    tx_id::text::bigint AS tx_id, position
             FROM events WHERE event_type = 'MessageSent' AND aggregate_id = $1
                           AND (payload->'MessageSent'->>'seq')::bigint = $2",
        )
        .bind(room_id.to_string())
        .bind(seq)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(found).transpose()
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

fn found(row: &sqlx::postgres::PgRow) -> Result<FoundEvent, sqlx::Error> {
    Ok(FoundEvent {
        event_id: row.try_get("event_id")?,
        aggregate_type: row.try_get("aggregate_type")?,
        event_type: row.try_get("event_type")?,
        event_version: row.try_get("event_version")?,
        payload: row.try_get("payload")?,
        position: Position {
            tx_id: row.try_get("tx_id")?,
            position: row.try_get("position")?,
        },
    })
}
