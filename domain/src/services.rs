//! What aggregates ask of the outside world: the time and fresh ids.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Calls out of an aggregate go through here, so tests fix them and stay deterministic.
pub trait Services: Send + Sync {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
    /// A fresh, unique id.
    fn new_id(&self) -> Uuid;
}
