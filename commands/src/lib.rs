//! Command handling over the PostgreSQL event store.
//!
//! A command is run by loading its aggregate(s) through postgres-es, letting the pure domain
//! decide, and appending the resulting events in one transaction. Optimistic-concurrency
//! conflicts are retried here, so callers only ever see a conflict the domain itself reports.
//! Every successful command returns the global [`Position`](domain::Position) of what it wrote,
//! which the API hands out as the read-your-writes consistency token.

pub mod accounts;
mod adapter;
pub mod chat;
pub mod couples;
mod error;
pub mod games;
mod locks;
mod services;
pub mod store;

use std::sync::Arc;

use domain::{Aggregate, Position};
use sqlx::PgPool;

pub use error::CommandError;
pub use services::SystemServices;

use crate::locks::KeyedLocks;
use crate::store::{retry_conflicts, EventStore};

/// What a command on one aggregate did.
#[derive(Debug, Clone)]
pub struct Executed<A: Aggregate> {
    /// The aggregate after the command.
    pub state: A,
    /// The events it recorded (none when the command changed nothing).
    pub events: Vec<A::Event>,
    /// The position of its last event, or of the aggregate's latest event if it recorded none.
    pub position: Position,
}

/// Runs every command Moim knows. Cheap to clone.
#[derive(Clone)]
pub struct Commands {
    store: EventStore,
    services: Arc<dyn domain::Services>,
    locks: Arc<KeyedLocks>,
}

impl Commands {
    /// Commands over the event store in `pool`, with the system clock and v7 ids.
    pub fn new(pool: PgPool) -> Self {
        Self::with_services(pool, Arc::new(SystemServices))
    }

    /// Commands with other services, e.g. a fixed clock in tests.
    pub fn with_services(pool: PgPool, services: Arc<dyn domain::Services>) -> Self {
        Self {
            store: EventStore::new(pool),
            services,
            locks: Arc::new(KeyedLocks::default()),
        }
    }

    /// The event store underneath.
    pub fn store(&self) -> &EventStore {
        &self.store
    }
}

impl Commands {
    /// Runs a command on one aggregate: load, decide, append, retrying lost races.
    async fn execute<A>(&self, id: &str, command: A::Command) -> Result<Executed<A>, CommandError>
    where
        A: Aggregate,
        A::Command: Clone + Send,
    {
        let _held = self.locks.lock(vec![(A::TYPE, id.to_owned())]).await;
        retry_conflicts(A::TYPE, || async {
            let loaded = self.store.load::<A>(id).await?;
            let change = loaded.decide(command.clone(), self.services.as_ref())?;
            let position = if change.events.is_empty() {
                self.store.last_position(A::TYPE, id).await?
            } else {
                self.store.append_all(&[change.rows()?]).await?
            };
            Ok(Executed {
                state: change.after,
                events: change.events,
                position,
            })
        })
        .await
    }
}
