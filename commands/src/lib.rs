//! Command handling over the PostgreSQL event store.
//!
//! A command is run by loading its aggregate(s) through postgres-es, letting the pure domain
//! decide, and appending the resulting events in one transaction. Optimistic-concurrency
//! conflicts are retried here, so callers only ever see a conflict the domain itself reports.
//! Every successful command returns the global [`Position`](domain::Position) of what it wrote,
//! which the API hands out as the read-your-writes consistency token, and every event it writes
//! carries the [`Metadata`] of the request it came from ([`Commands::on_behalf`]).

pub mod accounts;
mod adapter;
mod attempts;
pub mod board;
mod cache;
pub mod chat;
pub mod clubs;
pub mod couple_life;
pub mod couples;
mod error;
pub mod games;
pub mod identities;
mod inbox;
mod locks;
pub mod media;
mod passwords;
pub mod rates;
mod services;
pub mod sessions;
pub mod store;
mod tallies;
pub mod users;

use std::sync::Arc;

use domain::{Aggregate, Metadata, Position};
use sqlx::PgPool;

pub use attempts::FailureLimit;
pub use error::CommandError;
pub use passwords::PasswordLimits;
pub use rates::{Rate, RateLimits};
pub use services::SystemServices;

use crate::cache::AggregateCache;
use crate::locks::KeyedLocks;
use crate::passwords::Passwords;
use crate::store::{retry_conflicts, EventStore};

/// How many aggregates a process keeps in memory.
const CACHE_CAPACITY: std::num::NonZeroUsize = match std::num::NonZeroUsize::new(10_000) {
    Some(n) => n,
    None => std::num::NonZeroUsize::MIN,
};

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
    cache: Arc<AggregateCache>,
    passwords: Arc<Passwords>,
    invite_failures: FailureLimit,
    rates: RateLimits,
    tallies: Arc<tallies::Tallies>,
    meta: Metadata,
}

impl Commands {
    /// Commands over the event store in `pool`, with the system clock and v7 ids.
    pub fn new(pool: PgPool) -> Self {
        Self::with_services(pool, Arc::new(SystemServices))
    }

    /// Commands with other services (another clock or id source).
    pub fn with_services(pool: PgPool, services: Arc<dyn domain::Services>) -> Self {
        Self {
            store: EventStore::new(pool),
            services,
            locks: Arc::new(KeyedLocks::default()),
            cache: Arc::new(AggregateCache::new(CACHE_CAPACITY)),
            passwords: Arc::new(Passwords::new(PasswordLimits::default())),
            invite_failures: FailureLimit {
                max: 10,
                window: std::time::Duration::from_secs(3600),
            },
            rates: RateLimits::default(),
            tallies: Arc::default(),
            meta: Metadata::default(),
        }
    }

    /// The same commands with other rate limits.
    pub fn with_rate_limits(self, rates: RateLimits) -> Self {
        Self { rates, ..self }
    }

    /// The same commands with other bounds on password hashing.
    pub fn with_password_limits(self, limits: PasswordLimits) -> Self {
        Self {
            passwords: Arc::new(self.passwords.limited(limits)),
            ..self
        }
    }

    /// The same commands with another limit on wrong couple codes per user.
    pub fn with_invite_failure_limit(self, invite_failures: FailureLimit) -> Self {
        Self {
            invite_failures,
            ..self
        }
    }

    /// The same commands, recording `meta` (who acts, for which request) with every event.
    pub fn on_behalf(&self, meta: Metadata) -> Self {
        Self {
            meta,
            ..self.clone()
        }
    }

    /// The event store underneath.
    pub fn store(&self) -> &EventStore {
        &self.store
    }
}

impl Commands {
    /// Runs a command on one aggregate: decide on the cached (or freshly loaded) state, append,
    /// and retry lost races on a fresh load.
    async fn execute<A>(&self, id: &str, command: A::Command) -> Result<Executed<A>, CommandError>
    where
        A: Aggregate,
        A::Command: Clone + Send,
    {
        let key = (A::TYPE, id.to_owned());
        let started = std::time::Instant::now();
        let _held = self.locks.lock(vec![key.clone()]).await;
        let result = retry_conflicts(A::TYPE, || async {
            let (loaded, cached) = match self.cache.get::<A>(&key) {
                Some(loaded) => (loaded, true),
                None => (self.store.load::<A>(id).await?, false),
            };
            let decided = loaded.decide(command.clone(), self.services.as_ref());
            let writes = decided
                .as_ref()
                .is_ok_and(|change| !change.events.is_empty());
            if !writes {
                // Nothing to append means no primary key to catch a stale state: confirm it.
                let (sequence, position) = self.store.latest(A::TYPE, id).await?;
                if cached && sequence != loaded.sequence {
                    self.cache.remove(&key);
                    return Err(CommandError::Conflict);
                }
                let change = decided?;
                self.cache.put(key.clone(), loaded);
                return Ok(Executed {
                    state: change.after,
                    events: vec![],
                    position,
                });
            }
            let change = decided?;
            match self.store.append_all(vec![change.rows(&self.meta)?]).await {
                Ok(position) => {
                    let events = change.events.clone();
                    let done = change.into_loaded();
                    let state = done.aggregate.clone();
                    self.cache.put(key.clone(), done);
                    Ok(Executed {
                        state,
                        events,
                        position,
                    })
                }
                Err(error) => {
                    self.cache.remove(&key);
                    Err(error.into())
                }
            }
        })
        .await;
        if result.is_err() {
            self.cache.remove(&key);
        }
        let outcome = match &result {
            Ok(_) => "ok",
            Err(CommandError::Rejected { .. }) => "rejected",
            Err(_) => "failed",
        };
        metrics::counter!("commands_total", "aggregate" => A::TYPE, "outcome" => outcome)
            .increment(1);
        metrics::histogram!("command_duration_seconds", "aggregate" => A::TYPE)
            .record(started.elapsed().as_secs_f64());
        result
    }
}
