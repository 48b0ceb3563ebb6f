//! The two traits every event-sourced aggregate in Moim implements.
//!
//! They mirror cqrs-es's `Aggregate` and `DomainEvent`, but stay free of its async runtime so the
//! domain crate keeps no I/O dependency; `commands` adapts them to cqrs-es.

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

use crate::error::Rejection;
use crate::services::Services;

/// A consistency boundary: it decides on commands from its own state and evolves by its events.
pub trait Aggregate:
    Default + Clone + Serialize + DeserializeOwned + Debug + Send + Sync + 'static
{
    /// Stable name of the aggregate type, stored with every event and used in NATS subjects.
    const TYPE: &'static str;
    /// What callers ask of it.
    type Command: Send;
    /// What it records.
    type Event: DomainEvent;
    /// Why it refuses a command.
    type Error: Rejection;
    /// Take a snapshot every this many events, so a long-lived stream loads from its latest
    /// snapshot instead of from its first event; `None` for aggregates that stay short.
    const SNAPSHOT_EVERY: Option<u64> = None;

    /// Decides which events a command produces, without changing `self`.
    fn handle(
        &self,
        command: Self::Command,
        services: &dyn Services,
    ) -> Result<Vec<Self::Event>, Self::Error>;

    /// Evolves the state by one event; never fails, because the event already happened.
    fn apply(&mut self, event: Self::Event);
}

/// An event as stored: it names its type and version, which never change once shipped.
pub trait DomainEvent:
    Serialize + DeserializeOwned + Clone + PartialEq + Debug + Send + Sync + 'static
{
    /// Stable type name, e.g. `MessageSent`.
    fn event_type(&self) -> &'static str;
    /// Schema version of the payload; bumped together with an upcaster.
    fn event_version(&self) -> &'static str;
    /// A deterministic id for events that stand for an idempotent request, so that the store's
    /// unique event id turns a retried request into a no-op. `None` gets a fresh id.
    fn idempotency_id(&self) -> Option<Uuid> {
        None
    }
    /// Whether this event is a consequence of the event decided just before it by the same
    /// command (a promotion caused by a leave), rather than of the request itself. Its metadata
    /// then names that event as its cause.
    fn caused_by_previous(&self) -> bool {
        false
    }
}
