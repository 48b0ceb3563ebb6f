//! Reading an event's payload as its domain type, through the domain's upcasters — the same
//! ones the aggregates load with, so a live view, a replay and an aggregate read an old event
//! alike.

use moim_nats::EventEnvelope;
use serde::de::DeserializeOwned;

use crate::ProjectionError;

/// Reads an envelope's payload as the event enum of its aggregate, upcast to today's version.
pub(crate) fn decode<E: DeserializeOwned>(event: &EventEnvelope) -> Result<E, ProjectionError> {
    domain::upcast::decode_text(
        &event.aggregate_type,
        &event.event_type,
        &event.event_version,
        event.payload.get(),
    )
    .map_err(|source| ProjectionError::Unreadable {
        event_id: event.event_id,
        event_type: event.event_type.clone(),
        source,
    })
}
