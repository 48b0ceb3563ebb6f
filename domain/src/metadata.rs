//! Who and why: the metadata stored with every event.
//!
//! Each event records the user who acted, the request it came from (the correlation id, shared
//! by every event that one request caused, and carried on as a NATS header and a log field), and,
//! for an event that another event caused, that event's id. With them one request can be followed
//! from the HTTP handler through the store, the stream, the read models and the pushes.
//!
//! cqrs-es reads metadata back as a map of strings, so every field serialises as a string.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The metadata of one event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Metadata {
    /// The user whose request (or whose admin action) this is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<Uuid>,
    /// The request this event came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// The event that caused this one, when another event did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
    /// The W3C `traceparent` of the span that wrote it, when tracing is on: the relay and the
    /// read models continue that trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

impl Metadata {
    /// Metadata of a request made by `actor` (if signed in) with request id `correlation_id`.
    pub fn request(actor: Option<Uuid>, correlation_id: impl Into<String>) -> Self {
        Self {
            actor,
            correlation_id: Some(correlation_id.into()),
            causation_id: None,
            traceparent: None,
        }
    }

    /// The same, continuing the trace `traceparent` names.
    pub fn traced(self, traceparent: Option<String>) -> Self {
        Self {
            traceparent,
            ..self
        }
    }

    /// The same, for an event caused by the event `cause`.
    pub fn caused_by(&self, cause: Uuid) -> Self {
        Self {
            causation_id: Some(cause),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_a_map_of_strings_and_omits_what_is_unknown() {
        let actor = Uuid::from_u128(7);
        let meta = Metadata::request(Some(actor), "req-1").caused_by(Uuid::from_u128(9));
        let json = serde_json::to_value(&meta).unwrap_or_default();
        assert!(json
            .as_object()
            .is_some_and(|o| o.values().all(|v| v.is_string())));
        assert_eq!(json["correlation_id"], "req-1");
        assert_eq!(
            serde_json::to_value(Metadata::default()).ok(),
            Some(serde_json::json!({}))
        );
    }
}
