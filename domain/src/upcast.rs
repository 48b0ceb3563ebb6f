//! Upcasters: how an event stored in an older shape is read as today's.
//!
//! Stored events are never edited. When an event's payload changes shape, its `event_version`
//! goes up and an upcaster here rewrites the old JSON into the new shape on the way in. The same
//! list serves every reader — aggregates loading through cqrs-es (`commands`), live projections
//! and replay (`projections`) — so none of them can read an old event differently.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Rewrites one event type's payload from one version to the next.
#[derive(Debug, Clone, Copy)]
pub struct Upcaster {
    /// The aggregate whose event it reads, e.g. `chat_room`.
    pub aggregate_type: &'static str,
    /// The event type, e.g. `RoomCreated`.
    pub event_type: &'static str,
    /// The version it reads.
    pub from: &'static str,
    /// The version it produces.
    pub to: &'static str,
    /// The rewrite of the whole stored payload (the enum's `{"<EventType>": {...}}` form).
    pub rewrite: fn(Value) -> Value,
}

/// Every upcaster Moim has, oldest first for each event type.
pub const ALL: &[Upcaster] = &[crate::chat::ROOM_CREATED_V1_TO_V2];

/// Brings a stored payload up to the current version; answers the version it ends at.
pub fn upcast(
    aggregate_type: &str,
    event_type: &str,
    version: &str,
    mut payload: Value,
) -> (String, Value) {
    let mut version = version.to_owned();
    while let Some(upcaster) = find(aggregate_type, event_type, &version) {
        payload = (upcaster.rewrite)(payload);
        version = upcaster.to.to_owned();
    }
    (version, payload)
}

fn find(aggregate_type: &str, event_type: &str, version: &str) -> Option<&'static Upcaster> {
    ALL.iter().find(|u| {
        u.aggregate_type == aggregate_type && u.event_type == event_type && u.from == version
    })
}

/// Reads a stored payload of any version as today's event type `E`.
pub fn decode<E: DeserializeOwned>(
    aggregate_type: &str,
    event_type: &str,
    version: &str,
    payload: Value,
) -> Result<E, serde_json::Error> {
    let (_, payload) = upcast(aggregate_type, event_type, version, payload);
    serde_json::from_value(payload)
}

/// [`decode`] from a payload's JSON text: read straight into `E`, and through a [`Value`] only
/// when an upcaster must rewrite it. Readers that read each event many times (every view of a
/// replay) build no tree of it.
pub fn decode_text<E: DeserializeOwned>(
    aggregate_type: &str,
    event_type: &str,
    version: &str,
    payload: &str,
) -> Result<E, serde_json::Error> {
    if find(aggregate_type, event_type, version).is_none() {
        return serde_json::from_str(payload);
    }
    decode(
        aggregate_type,
        event_type,
        version,
        serde_json::from_str(payload)?,
    )
}

/// The fields of a stored enum payload `{"<event_type>": {fields}}`, for an upcaster to edit.
pub fn fields<'a>(payload: &'a mut Value, event_type: &str) -> Option<&'a mut Map<String, Value>> {
    payload.get_mut(event_type)?.as_object_mut()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_upcaster_moves_one_version_forward_and_none_is_listed_twice() {
        for (i, u) in ALL.iter().enumerate() {
            let from: u32 = u.from.parse().unwrap_or(0);
            let to: u32 = u.to.parse().unwrap_or(0);
            assert_eq!(to, from + 1, "{} {}", u.event_type, u.from);
            assert!(
                ALL[..i]
                    .iter()
                    .all(|o| (o.aggregate_type, o.event_type, o.from)
                        != (u.aggregate_type, u.event_type, u.from)),
                "{} {} listed twice",
                u.event_type,
                u.from
            );
        }
    }

    #[test]
    fn current_events_pass_through_untouched() {
        let payload = serde_json::json!({"MessageSent": {"seq": 1}});
        assert_eq!(
            upcast("chat_room", "MessageSent", "1", payload.clone()),
            ("1".to_owned(), payload)
        );
    }
}
