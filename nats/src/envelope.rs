//! The event envelope published to JetStream: the JSON body and the headers that describe it.

use async_nats::HeaderMap;
use chrono::{DateTime, Utc};
use domain::{Metadata, Position};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use uuid::Uuid;

/// Header names; `Nats-Msg-Id` (the event id) is set by the relay for de-duplication.
pub mod headers {
    /// The event's stable id.
    pub const EVENT_ID: &str = "Moim-Event-Id";
    /// e.g. `MessageSent`.
    pub const EVENT_TYPE: &str = "Moim-Event-Type";
    /// Payload schema version.
    pub const EVENT_VERSION: &str = "Moim-Event-Version";
    /// e.g. `chat_room`.
    pub const AGGREGATE_TYPE: &str = "Moim-Aggregate-Type";
    /// The aggregate's id.
    pub const AGGREGATE_ID: &str = "Moim-Aggregate-Id";
    /// The event's sequence within its aggregate.
    pub const AGGREGATE_SEQUENCE: &str = "Moim-Aggregate-Sequence";
    /// The global position, `<tx_id>.<position>`.
    pub const POSITION: &str = "Moim-Position";
    /// The user whose request caused the event.
    pub const ACTOR: &str = "Moim-Actor";
    /// The request the event came from (its request id).
    pub const CORRELATION_ID: &str = "Moim-Correlation-Id";
    /// The event that caused this one, when one did.
    pub const CAUSATION_ID: &str = "Moim-Causation-Id";
    /// W3C trace context: the relay's span that published the event.
    pub const TRACEPARENT: &str = "traceparent";
}

/// One stored event as it travels through NATS.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventEnvelope {
    /// Stable id; also the `Nats-Msg-Id`.
    pub event_id: Uuid,
    /// e.g. `chat_room`.
    pub aggregate_type: String,
    /// The aggregate's id.
    pub aggregate_id: String,
    /// Sequence within the aggregate, from 1.
    pub sequence: i64,
    /// e.g. `MessageSent`.
    pub event_type: String,
    /// Payload schema version.
    pub event_version: String,
    /// Global position in the event store.
    pub position: Position,
    /// When the event store recorded it.
    pub recorded_at: DateTime<Utc>,
    /// The event itself, as the domain serialised it: `{"<event_type>": {…}}`. Kept as its JSON
    /// text, so that each reader decodes it straight into the type it reads it as, with no tree
    /// built between (a replay reads each event once per view).
    #[schema(value_type = Object)]
    pub payload: Box<RawValue>,
    /// Metadata stored with it.
    #[schema(value_type = domain::Metadata)]
    pub metadata: Value,
}

impl EventEnvelope {
    /// `SELECT`s stored events as envelopes: `filter` is everything after `FROM events`.
    pub fn select(filter: &str) -> String {
        format!(
            "SELECT event_id, aggregate_type, aggregate_id, sequence, event_type, event_version,
                    payload, metadata, recorded_at, tx_id::text::bigint AS tx, position
             FROM events {filter}"
        )
    }

    /// The `traceparent` of the span that wrote the event, when tracing was on.
    pub fn traceparent(&self) -> Option<String> {
        self.metadata
            .get("traceparent")
            .and_then(|t| t.as_str())
            .map(str::to_owned)
    }

    /// The headers describing this event.
    pub fn headers(&self) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(headers::EVENT_ID, self.event_id.to_string().as_str());
        map.insert(headers::EVENT_TYPE, self.event_type.as_str());
        map.insert(headers::EVENT_VERSION, self.event_version.as_str());
        map.insert(headers::AGGREGATE_TYPE, self.aggregate_type.as_str());
        map.insert(headers::AGGREGATE_ID, self.aggregate_id.as_str());
        map.insert(
            headers::AGGREGATE_SEQUENCE,
            self.sequence.to_string().as_str(),
        );
        map.insert(headers::POSITION, self.position.to_string().as_str());
        let meta: Metadata = serde_json::from_value(self.metadata.clone()).unwrap_or_default();
        if let Some(actor) = meta.actor {
            map.insert(headers::ACTOR, actor.to_string().as_str());
        }
        if let Some(correlation_id) = &meta.correlation_id {
            map.insert(headers::CORRELATION_ID, correlation_id.as_str());
        }
        if let Some(causation_id) = meta.causation_id {
            map.insert(headers::CAUSATION_ID, causation_id.to_string().as_str());
        }
        map
    }

    /// The global position named in a message's headers.
    pub fn position_in(headers: Option<&HeaderMap>) -> Option<Position> {
        headers?.get(headers::POSITION)?.as_str().parse().ok()
    }
}

/// Reads a row of [`EventEnvelope::select`].
impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for EventEnvelope {
    fn from_row(row: &'r sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
        use sqlx::Row;
        Ok(Self {
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
            payload: row
                .try_get::<sqlx::types::Json<Box<RawValue>>, _>("payload")?
                .0,
            metadata: row.try_get("metadata")?,
        })
    }
}
