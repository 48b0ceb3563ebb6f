//! The event store, split by what each part does: `load` reads aggregates through postgres-es
//! (snapshots and the domain's upcasters), `change` turns a decision into rows with their
//! metadata, `append` writes the rows of one or more aggregates in one statement and answers
//! their global position, and `retry` runs a command again when it lost a race.

mod append;
mod change;
mod load;
mod retry;
pub(crate) mod seal;

use sqlx::PgPool;

pub use append::AppendError;
pub use change::{Change, Loaded, Rows};
pub use load::FoundEvent;
pub use retry::retry_conflicts;

/// The PostgreSQL event store. Cheap to clone.
#[derive(Clone)]
pub struct EventStore {
    pool: PgPool,
}

impl EventStore {
    /// A store over `pool`, whose schema `migrations/` created.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}
