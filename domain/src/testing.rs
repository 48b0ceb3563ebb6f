//! Given/when/then for aggregates, with fixed time and ids, and no I/O.
//!
//! cqrs-es's own `TestFramework` needs its tokio-based `Aggregate`, which the pure domain cannot
//! depend on; this is the same three steps over our own trait.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, TimeZone, Utc};
use uuid::Uuid;

use crate::aggregate::Aggregate;
use crate::services::Services;

/// Services with a settable clock and ids counting up from 1.
#[derive(Debug)]
pub struct FixedServices {
    /// What `now()` answers.
    pub now: DateTime<Utc>,
    next_id: AtomicU64,
}

impl FixedServices {
    /// Services at `2026-01-01T12:00:00Z`.
    pub fn new() -> Self {
        Self::at(
            Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0)
                .single()
                .unwrap_or_default(),
        )
    }

    /// Services at a given time.
    pub fn at(now: DateTime<Utc>) -> Self {
        Self {
            now,
            next_id: AtomicU64::new(1),
        }
    }
}

impl Default for FixedServices {
    fn default() -> Self {
        Self::new()
    }
}

impl Services for FixedServices {
    fn now(&self) -> DateTime<Utc> {
        self.now
    }

    fn new_id(&self) -> Uuid {
        Uuid::from_u128(u128::from(self.next_id.fetch_add(1, Ordering::Relaxed)))
    }
}

/// Starts a scenario from past events.
pub fn given<A: Aggregate>(events: impl IntoIterator<Item = A::Event>) -> Given<A> {
    let mut aggregate = A::default();
    for event in events {
        aggregate.apply(event);
    }
    Given {
        aggregate,
        services: FixedServices::new(),
    }
}

/// An aggregate rebuilt from past events, waiting for a command.
pub struct Given<A: Aggregate> {
    aggregate: A,
    services: FixedServices,
}

impl<A: Aggregate> Given<A> {
    /// Runs the scenario at another time.
    pub fn at(mut self, now: DateTime<Utc>) -> Self {
        self.services.now = now;
        self
    }

    /// Handles one command.
    pub fn when(self, command: A::Command) -> Then<A> {
        let result = self.aggregate.handle(command, &self.services);
        Then {
            aggregate: self.aggregate,
            result,
        }
    }
}

/// The outcome of a command, to be checked.
pub struct Then<A: Aggregate> {
    aggregate: A,
    result: Result<Vec<A::Event>, A::Error>,
}

impl<A: Aggregate> Then<A> {
    /// Asserts the command produced exactly these events.
    #[track_caller]
    pub fn then_expect_events(self, expected: Vec<A::Event>) -> A {
        match self.result {
            Ok(events) => {
                assert_eq!(events, expected);
                let mut aggregate = self.aggregate;
                for event in events {
                    aggregate.apply(event);
                }
                aggregate
            }
            Err(error) => panic!("expected events {expected:?}, got error {error}"),
        }
    }

    /// Asserts the command was refused with this code.
    #[track_caller]
    pub fn then_expect_error(self, code: &str) {
        use crate::error::Rejection;
        match self.result {
            Ok(events) => panic!("expected error {code}, got events {events:?}"),
            Err(error) => assert_eq!(error.code(), code, "{error}"),
        }
    }
}
