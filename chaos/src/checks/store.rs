//! The event store as the checks see it: every event in global order, with the chat message
//! fields of `MessageSent` events pulled out of their payload.

use domain::Position;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

/// One stored event.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The event's id.
    pub event_id: Uuid,
    /// e.g. `chat_room`.
    pub aggregate_type: String,
    /// The aggregate's id.
    pub aggregate_id: String,
    /// Its sequence within the aggregate.
    pub sequence: i64,
    /// e.g. `MessageSent`.
    pub event_type: String,
    /// Its global position.
    pub position: Position,
    /// Set for `MessageSent`.
    pub message: Option<Message>,
}

/// The fields of a `MessageSent` payload the checks use.
#[derive(Debug, Clone)]
pub struct Message {
    /// The payload's `message_id`.
    pub message_id: Uuid,
    /// The payload's `room_id`.
    pub room_id: Uuid,
    /// The payload's `seq`.
    pub seq: i64,
    /// The payload's `sender_id`.
    pub sender_id: Uuid,
    /// The payload's `client_msg_id`.
    pub client_msg_id: Uuid,
}

type Row = (Uuid, String, String, i64, String, i64, i64, Option<Value>);

/// Every event, in global order (`ORDER BY tx_id, position`).
pub async fn load(pool: &PgPool) -> anyhow::Result<Vec<Stored>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT event_id, aggregate_type, aggregate_id, sequence, event_type,
                tx_id::text::bigint, position, payload -> 'MessageSent'
         FROM events ORDER BY tx_id, position",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(
                event_id,
                aggregate_type,
                aggregate_id,
                sequence,
                event_type,
                tx_id,
                position,
                sent,
            )| {
                let message = sent.as_ref().and_then(message);
                Stored {
                    event_id,
                    aggregate_type,
                    aggregate_id,
                    sequence,
                    event_type,
                    position: Position { tx_id, position },
                    message,
                }
            },
        )
        .collect())
}

fn message(sent: &Value) -> Option<Message> {
    let id = |field: &str| sent[field].as_str()?.parse::<Uuid>().ok();
    Some(Message {
        message_id: id("message_id")?,
        room_id: id("room_id")?,
        seq: sent["seq"].as_i64()?,
        sender_id: id("sender_id")?,
        client_msg_id: id("client_msg_id")?,
    })
}
