//! The production clock and id source.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Wall-clock time and time-ordered (v7) ids, which keep index inserts local.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemServices;

impl domain::Services for SystemServices {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn new_id(&self) -> Uuid {
        Uuid::now_v7()
    }
}
