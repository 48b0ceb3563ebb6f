//! Adapts the pure domain traits to cqrs-es, so postgres-es can load our aggregates.
//!
//! The domain cannot implement cqrs-es's traits itself: cqrs-es depends on tokio, and the domain
//! crate stays free of runtime and I/O crates.

use std::sync::Arc;

use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};

/// A domain aggregate seen through cqrs-es.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Es<A>(pub A);

/// A domain event seen through cqrs-es.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EsEvent<E>(pub E);

impl<E: domain::DomainEvent> cqrs_es::DomainEvent for EsEvent<E> {
    fn event_type(&self) -> String {
        self.0.event_type().to_owned()
    }

    fn event_version(&self) -> String {
        self.0.event_version().to_owned()
    }
}

impl<A> cqrs_es::Aggregate for Es<A>
where
    A: domain::Aggregate,
    A::Command: Send,
{
    const TYPE: &'static str = A::TYPE;
    type Command = A::Command;
    type Event = EsEvent<A::Event>;
    type Error = A::Error;
    type Services = Arc<dyn domain::Services>;

    async fn handle(
        &mut self,
        command: A::Command,
        services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), A::Error> {
        for event in self.0.handle(command, services.as_ref())? {
            sink.write(EsEvent(event), self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: EsEvent<A::Event>) {
        self.0.apply(event.0);
    }
}
