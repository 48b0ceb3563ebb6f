//! From a decision to rows: an aggregate as loaded, the events a command decided on, and those
//! events serialised with their ids and metadata, ready to append.

use domain::{Aggregate, DomainEvent, Metadata};
use serde_json::Value;
use uuid::Uuid;

use crate::error::CommandError;

/// An aggregate as loaded, with the sequence it was loaded at.
#[derive(Debug, Clone)]
pub struct Loaded<A> {
    /// Its id.
    pub id: String,
    /// Its state.
    pub aggregate: A,
    /// The sequence of its last event (0 for a new one).
    pub sequence: u64,
    pub(crate) snapshot_count: u64,
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

/// One event ready to append.
pub(crate) struct Row {
    pub(crate) event_type: &'static str,
    pub(crate) event_version: &'static str,
    pub(crate) payload: Value,
    pub(crate) metadata: Value,
    pub(crate) event_id: Uuid,
}

/// A [`Change`] with its types erased, so changes to different aggregates share one append.
pub struct Rows {
    pub(crate) aggregate_type: &'static str,
    pub(crate) aggregate_id: String,
    pub(crate) first_sequence: u64,
    pub(crate) events: Vec<Row>,
    pub(crate) snapshot: Option<(Value, u64)>,
}

/// Whether appending up to `last` from `before` crosses a multiple of the aggregate's snapshot
/// interval.
fn snapshot_due<A: Aggregate>(before: u64, last: u64) -> bool {
    matches!(A::SNAPSHOT_EVERY, Some(every) if every > 0 && last / every > before / every)
}

impl<A: Aggregate> Change<A> {
    /// The aggregate as it stands once this change is appended.
    pub fn into_loaded(self) -> Loaded<A> {
        let sequence = self.loaded.sequence + self.events.len() as u64;
        let snapshotted = snapshot_due::<A>(self.loaded.sequence, sequence);
        Loaded {
            id: self.loaded.id,
            aggregate: self.after,
            sequence,
            snapshot_count: self.loaded.snapshot_count + u64::from(snapshotted),
        }
    }

    /// Serialises the change for an append. Each event gets `meta`; one that the previous event
    /// caused (see [`DomainEvent::caused_by_previous`]) names that event as its cause.
    pub fn rows(&self, meta: &Metadata) -> Result<Rows, CommandError> {
        let loaded = &self.loaded;
        let mut events: Vec<Row> = Vec::with_capacity(self.events.len());
        for event in &self.events {
            let event_id = event.idempotency_id().unwrap_or_else(Uuid::now_v7);
            let metadata = match events.last() {
                Some(previous) if event.caused_by_previous() => meta.caused_by(previous.event_id),
                _ => meta.clone(),
            };
            events.push(Row {
                event_type: event.event_type(),
                event_version: event.event_version(),
                payload: serde_json::to_value(event).map_err(CommandError::Encode)?,
                metadata: serde_json::to_value(&metadata).map_err(CommandError::Encode)?,
                event_id,
            });
        }
        let last = loaded.sequence + events.len() as u64;
        let snapshot = if snapshot_due::<A>(loaded.sequence, last) {
            let payload = serde_json::to_value(&self.after).map_err(CommandError::Encode)?;
            Some((payload, loaded.snapshot_count + 1))
        } else {
            None
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
