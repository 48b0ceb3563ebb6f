//! The production clock and id source.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use uuid::Uuid;

/// Wall-clock time and time-ordered (v7) ids, which keep index inserts local.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemServices;

impl domain::Services for SystemServices {
    /// Microseconds, as PostgreSQL keeps them: a time in an event, in the answer to the command,
    /// in a frame and in a read model's row is then one and the same value.
    fn now(&self) -> DateTime<Utc> {
        let now = Utc::now();
        now.duration_trunc(TimeDelta::microseconds(1))
            .unwrap_or(now)
    }

    fn new_id(&self) -> Uuid {
        Uuid::now_v7()
    }
}
