//! Every stored event is in JetStream exactly once (by event id), each aggregate's events are
//! in the stream in their order (sequence 1, 2, 3, …), and — what the relay's design promises
//! on top — stream sequence n holds the store's n-th event in global order.

use std::collections::{HashMap, HashSet};

use async_nats::jetstream;
use domain::Position;
use futures::{StreamExt, TryStreamExt};
use moim_nats::EventEnvelope;
use uuid::Uuid;

use super::store::Stored;
use super::Check;

/// Reads at once; enough to hide the round trips without crowding the server.
const READ_AHEAD: usize = 32;

struct InStream {
    event_id: Uuid,
    aggregate: (String, String),
    sequence: i64,
    position: Position,
    header_position: Option<Position>,
}

/// Runs the check.
pub async fn check(
    js: &jetstream::Context,
    stream_name: &str,
    store: &[Stored],
) -> anyhow::Result<Check> {
    let mut check = Check::new("stored events are in JetStream exactly once, in order");
    let stream = js.get_stream(stream_name).await?;
    let last = stream.cached_info().state.last_sequence;
    let messages: Vec<InStream> = futures::stream::iter(1..=last)
        .map(|seq| {
            let stream = &stream;
            async move {
                let message = stream.get_raw_message(seq).await?;
                let envelope: EventEnvelope = serde_json::from_slice(&message.payload)?;
                anyhow::Ok(InStream {
                    event_id: envelope.event_id,
                    aggregate: (envelope.aggregate_type, envelope.aggregate_id),
                    sequence: envelope.sequence,
                    position: envelope.position,
                    header_position: EventEnvelope::position_in(Some(&message.headers)),
                })
            }
        })
        .buffered(READ_AHEAD)
        .try_collect()
        .await?;

    let mut seen: HashMap<Uuid, usize> = HashMap::new();
    for message in &messages {
        *seen.entry(message.event_id).or_default() += 1;
    }
    let stored: HashSet<Uuid> = store.iter().map(|e| e.event_id).collect();
    let missing = store
        .iter()
        .filter(|e| !seen.contains_key(&e.event_id))
        .count();
    let doubled = seen.values().filter(|&&n| n > 1).count();
    let foreign = seen.keys().filter(|id| !stored.contains(id)).count();
    for (id, n) in seen.iter().filter(|(_, &n)| n > 1) {
        check.violation(format!("event {id} is in the stream {n} times"));
    }
    for event in store.iter().filter(|e| !seen.contains_key(&e.event_id)) {
        check.violation(format!(
            "event {} ({} {} #{}) is not in the stream",
            event.event_id, event.aggregate_type, event.aggregate_id, event.sequence
        ));
    }
    for id in seen.keys().filter(|id| !stored.contains(id)) {
        check.violation(format!("stream message {id} is not in the store"));
    }

    let bad_headers = messages
        .iter()
        .filter(|m| m.header_position != Some(m.position))
        .count();
    if bad_headers > 0 {
        check.violation(format!(
            "{bad_headers} messages whose Moim-Position header differs from their body"
        ));
    }

    let mut next: HashMap<&(String, String), i64> = HashMap::new();
    let mut out_of_order = 0;
    for (index, message) in messages.iter().enumerate() {
        let expected = next.entry(&message.aggregate).or_insert(1);
        if message.sequence != *expected {
            out_of_order += 1;
            check.violation(format!(
                "stream seq {}: {} {} has sequence {}, expected {}",
                index + 1,
                message.aggregate.0,
                message.aggregate.1,
                message.sequence,
                expected
            ));
        }
        *expected = message.sequence + 1;
    }

    let differing = store.iter().zip(&messages).position(|(event, message)| {
        event.event_id != message.event_id || event.position != message.position
    });
    if let Some(index) = differing {
        check.violation(format!(
            "stream seq {} is not the store's event #{} in global order",
            index + 1,
            index + 1
        ));
    }

    check.count("events in the store", store.len());
    check.count("messages in the stream", messages.len());
    check.count("  distinct event ids in the stream", seen.len());
    check.count("  stored events missing from the stream", missing);
    check.count("  event ids in the stream more than once", doubled);
    check.count("  stream messages not in the store", foreign);
    check.count("  Moim-Position header differs from body", bad_headers);
    check.count("aggregates", next.len());
    check.count("  out-of-order aggregate sequences", out_of_order);
    check.count(
        "stream order equals store global order",
        if differing.is_none() && store.len() == messages.len() {
            "yes"
        } else {
            "no"
        },
    );
    Ok(check)
}
